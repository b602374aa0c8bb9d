"""Label-selector syntax (`a=b,c!=d,e in (x,y),f notin (z),g,!h`) for --label-filter/--annotation-filter."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

__all__ = ["Operator", "Requirement", "Selector", "SelectorError", "parse_selector"]


class SelectorError(ValueError):
    """A selector string that Kubernetes would refuse."""


class Operator(Enum):
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    EQUALS = "="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


@dataclass(frozen=True)
class Requirement:
    """One comma-separated term of a selector."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key, "")
        match self.operator:
            case Operator.EXISTS:
                return present
            case Operator.DOES_NOT_EXIST:
                return not present
            case Operator.EQUALS | Operator.IN:
                return present and value in self.values
            case Operator.NOT_EQUALS | Operator.NOT_IN:
                return not present or value not in self.values
            case Operator.GREATER_THAN | Operator.LESS_THAN:
                return present and _compare(value, int(self.values[0]), self.operator)
        return False  # pragma: no cover - the match is exhaustive


@dataclass(frozen=True)
class Selector:
    """A conjunction of requirements; the empty selector matches everything."""

    requirements: tuple[Requirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        found = labels or {}
        return all(requirement.matches(found) for requirement in self.requirements)


def parse_selector(text: str) -> Selector:
    """Parse a label selector as `kubectl -l` does; raise SelectorError naming the problem."""
    tokens = _tokenize(text)
    if not tokens:
        return Selector()
    parser = _Parser(tokens, text)
    return Selector(parser.requirements())


def _compare(value: str, bound: int, operator: Operator) -> bool:
    try:
        number = int(value)
    except ValueError:
        return False
    return number > bound if operator is Operator.GREATER_THAN else number < bound


# --- lexer -------------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(==|!=|=|!|\(|\)|,|<|>|[^\s=!(),<>]+)")


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            if text[pos:].strip():  # pragma: no cover - every non-space character forms a token
                raise SelectorError(f"invalid selector {text!r}")
            break
        tokens.append(match.group(1))
        pos = match.end()
    return tokens


# --- parser ------------------------------------------------------------------------------------------------

_OPERATORS = {
    "=": Operator.EQUALS,
    "==": Operator.EQUALS,
    "!=": Operator.NOT_EQUALS,
    "in": Operator.IN,
    "notin": Operator.NOT_IN,
    ">": Operator.GREATER_THAN,
    "<": Operator.LESS_THAN,
}
_SYMBOLS = frozenset({"==", "!=", "=", "!", "(", ")", ",", "<", ">"})


class _Parser:
    def __init__(self, tokens: list[str], text: str) -> None:
        self._tokens = tokens
        self._pos = 0
        self._text = text

    def requirements(self) -> tuple[Requirement, ...]:
        found = [self._requirement()]
        while self._peek() is not None:
            self._expect(",")
            found.append(self._requirement())
        return tuple(found)

    def _requirement(self) -> Requirement:
        if self._peek() == "!":
            self._next()
            return Requirement(self._key(), Operator.DOES_NOT_EXIST)
        key = self._key()
        token = self._peek()
        if token is None or token == ",":
            return Requirement(key, Operator.EXISTS)
        operator = _OPERATORS.get(self._next() or "")
        if operator is None:
            raise self._error(f"expected an operator after {key!r}")
        if operator in (Operator.IN, Operator.NOT_IN):
            return Requirement(key, operator, self._value_set())
        value = self._single_value()
        if operator in (Operator.GREATER_THAN, Operator.LESS_THAN) and not re.fullmatch(r"-?[0-9]+", value):
            raise self._error(f"{key!r}: {value!r} is not an integer")
        return Requirement(key, operator, (value,))

    def _key(self) -> str:
        token = self._next()
        if token is None or token in _SYMBOLS:
            raise self._error("expected a key")
        _check_key(token, self._text)
        return token

    def _single_value(self) -> str:
        token = self._peek()
        if token is None or token == ",":
            return ""
        value = self._next() or ""
        if value in _SYMBOLS:
            raise self._error(f"unexpected {value!r}")
        _check_value(value, self._text)
        return value

    def _value_set(self) -> tuple[str, ...]:
        self._expect("(")
        values: list[str] = []
        while True:
            token = self._peek()
            value = "" if token in (",", ")") else (self._next() or "")
            if value in _SYMBOLS:
                raise self._error(f"unexpected {value!r}")
            _check_value(value, self._text)
            values.append(value)
            separator = self._next()
            if separator == ")":
                break
            if separator != ",":
                raise self._error("expected ',' or ')'")
        if values == [""]:
            raise self._error("'in' and 'notin' need at least one value")
        return tuple(values)

    def _expect(self, symbol: str) -> None:
        if self._next() != symbol:
            raise self._error(f"expected {symbol!r}")

    def _peek(self) -> str | None:
        return self._tokens[self._pos] if self._pos < len(self._tokens) else None

    def _next(self) -> str | None:
        token = self._peek()
        if token is None:
            return None
        self._pos += 1
        return token

    def _error(self, reason: str) -> SelectorError:
        return SelectorError(f"invalid selector {self._text!r}: {reason}")


# --- validation (apimachinery's qualified names and label values) ------------------------------------------

_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def _check_key(key: str, text: str) -> None:
    prefix, _, name = key.rpartition("/")
    if "/" in key and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        raise SelectorError(f"invalid selector {text!r}: key {key!r} has an invalid prefix")
    if len(name) > 63 or not _NAME.fullmatch(name):
        raise SelectorError(f"invalid selector {text!r}: {key!r} is not a valid label key")


def _check_value(value: str, text: str) -> None:
    if value and (len(value) > 63 or not _NAME.fullmatch(value)):
        raise SelectorError(f"invalid selector {text!r}: {value!r} is not a valid label value")
