"""A Go text/template subset for --fqdn-template, evaluated over Kubernetes objects as JSON-shaped dicts."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FqdnTemplate", "TemplateError", "parse_fqdn_templates"]


class TemplateError(ValueError):
    """A template that does not parse, or a field it names that cannot be evaluated on an object."""


def parse_fqdn_templates(templates: Sequence[str]) -> FqdnTemplate | None:
    """Parse the --fqdn-template values (joined with commas as ExternalDNS does); None when none are set."""
    text = ",".join(t for t in templates if t.strip())
    return FqdnTemplate(text) if text.strip() else None


class FqdnTemplate:
    """A parsed template whose output, split on commas, is a list of hostnames."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._nodes = _Parser(text).parse()

    def __repr__(self) -> str:
        return f"FqdnTemplate({self.text!r})"

    def hostnames(self, obj: Mapping[str, Any], kind: str) -> list[str]:
        """Execute on `obj` (of Kubernetes `kind`): sorted unique names, trailing dots removed."""
        root = dict(obj) if obj.get("kind") else {**obj, "kind": kind}
        out: list[str] = []
        _Executor(root, kind.lower()).run(self._nodes, _Scope(root, {"$": root}), out)
        names = {part.strip().removesuffix(".") for part in "".join(out).split(",")}
        return sorted(name for name in names if name)


# --- syntax tree -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    chain: tuple[str, ...]  # `.` is the empty chain


@dataclass(frozen=True)
class _Variable:
    name: str
    chain: tuple[str, ...]


@dataclass(frozen=True)
class _Literal:
    value: Any


@dataclass(frozen=True)
class _Function:
    name: str


@dataclass(frozen=True)
class _Pipeline:
    commands: tuple[tuple[Any, ...], ...]
    declarations: tuple[str, ...] = ()


@dataclass(frozen=True)
class _SubPipeline:
    pipeline: _Pipeline
    chain: tuple[str, ...]


@dataclass(frozen=True)
class _Text:
    text: str


@dataclass(frozen=True)
class _Action:
    pipeline: _Pipeline


@dataclass(frozen=True)
class _Block:
    keyword: str  # if, with, range
    pipeline: _Pipeline
    body: tuple[Any, ...]
    otherwise: tuple[Any, ...] = ()


# --- lexer -------------------------------------------------------------------------------------------------

_ACTION = re.compile(r"\{\{(- )?(.*?)( -)?\}\}", re.DOTALL)
_TOKEN = re.compile(
    r"""\s*(?:
    (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<number>-?[0-9]+(?:\.[0-9]+)?)
  | (?P<variable>\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)
  | (?P<symbol>:=|[|()=,])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = frozenset({"if", "else", "end", "range", "with"})
_UNSUPPORTED = frozenset({"define", "template", "block", "break", "continue"})


def _split_actions(text: str) -> list[tuple[str, str]]:
    """Split template text into ("text", s) and ("action", body) items, applying `{{- ` and ` -}}` trims."""
    items: list[tuple[str, str]] = []
    pos = 0
    trim_next = False
    for match in _ACTION.finditer(text):
        chunk = text[pos : match.start()]
        chunk = chunk.lstrip() if trim_next else chunk
        items.append(("text", chunk.rstrip() if match.group(1) else chunk))
        items.append(("action", match.group(2).strip()))
        trim_next = bool(match.group(3))
        pos = match.end()
    tail = text[pos:]
    if "{{" in tail:
        raise TemplateError(f"template {text!r}: unclosed action")
    items.append(("text", tail.lstrip() if trim_next else tail))
    return [item for item in items if item != ("text", "")]


def _tokens(body: str, text: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    pos = 0
    while body[pos:].strip():
        match = _TOKEN.match(body, pos)
        if match is None or match.lastgroup is None:
            raise TemplateError(f"template {text!r}: cannot parse {body[pos:].strip()!r}")
        found.append((match.lastgroup, match.group(match.lastgroup)))
        pos = match.end()
    return found


# --- parser ------------------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self._text = text
        self._items = _split_actions(text)
        self._pos = 0

    def parse(self) -> tuple[Any, ...]:
        nodes, stop = self._nodes()
        if stop is not None:
            raise self._error(f"unexpected {{{{{stop}}}}}")
        return nodes

    def _nodes(self) -> tuple[tuple[Any, ...], str | None]:
        """Parse until `end`/`else` (returned as the stop word) or the end of the text."""
        nodes: list[Any] = []
        while self._pos < len(self._items):
            kind, body = self._items[self._pos]
            self._pos += 1
            if kind == "text":
                nodes.append(_Text(body))
                continue
            if body.startswith("/*"):
                if not body.endswith("*/"):
                    raise self._error("unclosed comment")
                continue
            word = body.split(None, 1)[0] if body else ""
            if word in ("end", "else"):
                return tuple(nodes), body
            if word in _UNSUPPORTED:
                raise self._error(f"{{{{{word}}}}} is not supported")
            nodes.append(self._block(word, body) if word in _KEYWORDS else _Action(self._pipeline(body)))
        return tuple(nodes), None

    def _block(self, keyword: str, body: str) -> _Block:
        pipeline = self._pipeline(body[len(keyword) :])
        inner, stop = self._nodes()
        if stop is None:
            raise self._error(f"{{{{{keyword}}}}} without {{{{end}}}}")
        if stop == "end":
            return _Block(keyword, pipeline, inner)
        rest = stop[len("else") :].strip()
        if rest:  # `else if ...` / `else with ...` chain into a nested block that consumes the `end`
            word = rest.split(None, 1)[0]
            if word not in ("if", "with"):
                raise self._error(f"unexpected {{{{{stop}}}}}")
            return _Block(keyword, pipeline, inner, (self._block(word, rest),))
        otherwise, stop = self._nodes()
        if stop != "end":
            raise self._error(f"{{{{{keyword}}}}} without {{{{end}}}}")
        return _Block(keyword, pipeline, inner, otherwise)

    def _pipeline(self, body: str) -> _Pipeline:
        tokens = _tokens(body, self._text)
        if not tokens:
            raise self._error("missing value for command")
        declarations = self._declarations(tokens)
        pipeline, rest = self._commands(tokens[2 * len(declarations) :] if declarations else tokens)
        if rest:
            raise self._error(f"unexpected {rest[0][1]!r}")
        return _Pipeline(pipeline.commands, declarations)

    def _declarations(self, tokens: list[tuple[str, str]]) -> tuple[str, ...]:
        names: list[str] = []
        index = 0
        while index + 1 < len(tokens) and tokens[index][0] == "variable":
            separator = tokens[index + 1][1]
            if separator not in (",", ":=", "="):
                break
            names.append(tokens[index][1])
            index += 2
            if separator != ",":
                return tuple(names)
        return ()

    def _commands(self, tokens: list[tuple[str, str]]) -> tuple[_Pipeline, list[tuple[str, str]]]:
        commands: list[tuple[Any, ...]] = []
        args: list[Any] = []
        while tokens and tokens[0][1] != ")":
            kind, value = tokens.pop(0)
            if (kind, value) == ("symbol", "|"):
                commands.append(self._command(args))
                args = []
            else:
                args.append(self._operand(kind, value, tokens))
        commands.append(self._command(args))
        return _Pipeline(tuple(commands)), tokens

    def _command(self, args: list[Any]) -> tuple[Any, ...]:
        if not args:
            raise self._error("missing command in pipeline")
        return tuple(args)

    def _operand(self, kind: str, value: str, tokens: list[tuple[str, str]]) -> Any:
        if kind == "field":
            return _Field(_chain(value))
        if kind == "variable":
            name, _, rest = value.partition(".")
            return _Variable(name, _chain("." + rest) if rest else ())
        if kind in ("string", "raw"):
            return _Literal(_unquote(value))
        if kind == "number":
            return _Literal(float(value) if "." in value else int(value))
        if kind == "ident":
            return _identifier(value, self._error)
        if (kind, value) == ("symbol", "("):
            inner, remaining = self._commands(tokens)
            if not remaining:
                raise self._error("unclosed '('")
            remaining.pop(0)
            chain = _chain(remaining.pop(0)[1]) if remaining and remaining[0][0] == "field" else ()
            return _SubPipeline(inner, chain)
        raise self._error(f"unexpected {value!r}")

    def _error(self, reason: str) -> TemplateError:
        return TemplateError(f"template {self._text!r}: {reason}")


def _chain(dotted: str) -> tuple[str, ...]:
    return tuple(part for part in dotted.split(".") if part)


def _identifier(name: str, error: Callable[[str], TemplateError]) -> Any:
    constants = {"true": True, "false": False, "nil": None}
    if name in constants:
        return _Literal(constants[name])
    if name not in _FUNCTIONS and name != "isSource":
        raise error(f"function {name!r} not defined")
    return _Function(name)


def _unquote(token: str) -> str:
    if token.startswith("`"):
        return token[1:-1]
    try:
        value = json.loads(token)
    except json.JSONDecodeError as exc:
        raise TemplateError(f"bad string literal {token}") from exc
    return str(value)


# --- values ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Missing:
    """A map lookup with no such key (Go's invalid value, printed as `<no value>`)."""

    what: str


# Go field names of metav1.TypeMeta + ObjectMeta and the Spec/Status every API object has.
_ROOT_FIELDS = frozenset(
    name.lower()
    for name in (
        *("Kind", "APIVersion", "Name", "GenerateName", "Namespace", "SelfLink", "UID", "ResourceVersion"),
        *("Generation", "CreationTimestamp", "DeletionTimestamp", "DeletionGracePeriodSeconds", "Labels"),
        *("Annotations", "OwnerReferences", "Finalizers", "ManagedFields", "Spec", "Status", "ObjectMeta"),
        "TypeMeta",
    )
)
_MAP_FIELDS = frozenset({"labels", "annotations", "selector", "nodeselector", "matchlabels", "data"})


def _root_field(root: Mapping[str, Any], name: str) -> Any:
    """A field of the object itself: TypeMeta, Spec, Status, or an ObjectMeta field promoted as in Go."""
    lowered = name.lower()
    if lowered not in _ROOT_FIELDS:
        raise TemplateError(f"can't evaluate field {name} in type *v1.{root.get('kind') or 'Object'}")
    metadata = root.get("metadata") or {}
    if lowered == "objectmeta":
        return metadata
    for source in (root, metadata):
        for key, found in source.items():
            if key.lower() == lowered:
                return found
    return {} if lowered in _MAP_FIELDS else None


def _child(value: Any, name: str, is_map: bool) -> Any:
    """A map entry (absent: missing) or a struct field (case-insensitive JSON key; absent: zero value)."""
    if isinstance(value, _Missing):
        raise TemplateError(f"nil pointer evaluating {value.what}.{name}")
    if not isinstance(value, Mapping):
        raise TemplateError(f"can't evaluate field {name} in type {_type_name(value)}")
    if name in value:
        return value[name]
    if is_map:
        return _Missing(name)
    lowered = name.lower()
    return next((found for key, found in value.items() if str(key).lower() == lowered), None)


def _truth(value: Any) -> bool:
    if isinstance(value, _Missing) or value is None:
        return False
    if isinstance(value, bool | int | float | str | Mapping | list | tuple):
        return bool(value)
    return True


def _render(value: Any) -> str:
    if isinstance(value, _Missing):
        raise TemplateError(f"map has no entry for key {value.what!r}")
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + " ".join(_render(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{_render(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def _type_name(value: Any) -> str:
    names = {str: "string", bool: "bool", int: "int", float: "float64", list: "[]interface {}"}
    return names.get(type(value), "map[string]interface {}" if isinstance(value, Mapping) else "<nil>")


# --- functions (Go builtins and the ExternalDNS additions) -------------------------------------------------


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise TemplateError(f"wrong type for value; expected string; got {_type_name(value)}")
    return value


def _index(item: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(item, Mapping):
            item = item.get(_string(key), "")
        elif isinstance(item, list | tuple | str) and isinstance(key, int):
            if not 0 <= key < len(item):
                raise TemplateError(f"index out of range: {key}")
            item = item[key]
        else:
            raise TemplateError(f"can't index item of type {_type_name(item)}")
    return item


def _is_ip(value: Any, version: int) -> bool:
    try:
        return ipaddress.ip_address(_string(value)).version == version
    except ValueError:
        return False


def _from_json(value: Any) -> Any:
    try:
        return json.loads(_string(value))
    except json.JSONDecodeError:
        return None


def _and(*values: Any) -> Any:
    for value in values:
        if not _truth(value):
            return value
    return values[-1]


def _or(*values: Any) -> Any:
    for value in values:
        if _truth(value):
            return value
    return values[-1]


def _ordered(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def check(left: Any, right: Any) -> bool:
        if type(left) is not type(right) or not isinstance(left, int | float | str):
            raise TemplateError("incompatible types for comparison")
        return compare(left, right)

    return check


def _printf(fmt: Any, *args: Any) -> str:
    values = iter(args)

    def substitute(match: re.Match[str]) -> str:
        verb = match.group(1)
        if verb == "%":
            return "%"
        value = next(values, _Missing("printf argument"))
        return json.dumps(_render(value)) if verb == "q" else _render(value)

    return re.sub(r"%([svdq%])", substitute, _string(fmt))


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "index": _index,
    "len": lambda value: len(value),
    "not": lambda value: not _truth(value),
    "and": _and,
    "or": _or,
    "eq": lambda left, *rights: any(left == right for right in rights),
    "ne": lambda left, right: left != right,
    "lt": _ordered(lambda a, b: a < b),
    "le": _ordered(lambda a, b: a <= b),
    "gt": _ordered(lambda a, b: a > b),
    "ge": _ordered(lambda a, b: a >= b),
    "print": lambda *values: "".join(_render(v) for v in values),
    "printf": _printf,
    "contains": lambda s, sub: _string(sub) in _string(s),
    "trimPrefix": lambda s, prefix: _string(s).removeprefix(_string(prefix)),
    "trimSuffix": lambda s, suffix: _string(s).removesuffix(_string(suffix)),
    "trim": lambda s: _string(s).strip(),
    "toLower": lambda s: _string(s).lower(),
    "replace": lambda old, new, target: _string(target).replace(_string(old), _string(new)),
    "isIPv4": lambda s: _is_ip(s, 4),
    "isIPv6": lambda s: _is_ip(s, 6),
    "hasKey": lambda mapping, key: isinstance(mapping, Mapping) and _string(key) in mapping,
    "fromJson": _from_json,
}


# --- execution ---------------------------------------------------------------------------------------------


@dataclass
class _Scope:
    dot: Any
    variables: dict[str, Any] = field(default_factory=dict)

    def child(self, dot: Any) -> _Scope:
        return _Scope(dot, dict(self.variables))


class _Executor:
    def __init__(self, root: Any, source: str) -> None:
        self._root = root
        self._source = source

    def run(self, nodes: Sequence[Any], scope: _Scope, out: list[str]) -> None:
        for node in nodes:
            if isinstance(node, _Text):
                out.append(node.text)
            elif isinstance(node, _Action):
                value = self._pipeline(node.pipeline, scope)
                if not node.pipeline.declarations:
                    out.append(_render(value))
            else:
                self._block(node, scope, out)

    def _block(self, node: _Block, scope: _Scope, out: list[str]) -> None:
        value = self._pipeline(node.pipeline, scope)
        if node.keyword == "range":
            self._range(node, value, scope, out)
        elif not _truth(value):
            self.run(node.otherwise, scope, out)
        else:
            self.run(node.body, scope.child(value) if node.keyword == "with" else scope, out)

    def _range(self, node: _Block, value: Any, scope: _Scope, out: list[str]) -> None:
        if isinstance(value, Mapping):
            pairs: list[tuple[Any, Any]] = [(key, value[key]) for key in sorted(value)]
        elif isinstance(value, list | tuple):
            pairs = list(enumerate(value))
        elif not _truth(value):
            pairs = []
        else:
            raise TemplateError(f"range can't iterate over {_render(value)}")
        if not pairs:
            self.run(node.otherwise, scope, out)
        names = node.pipeline.declarations
        for key, item in pairs:
            inner = scope.child(item)
            if len(names) == 1:
                inner.variables[names[0]] = item
            elif len(names) == 2:
                inner.variables[names[0]], inner.variables[names[1]] = key, item
            self.run(node.body, inner, out)

    def _pipeline(self, pipeline: _Pipeline, scope: _Scope) -> Any:
        value: Any = _NO_INPUT
        for command in pipeline.commands:
            value = self._command(command, scope, value)
        if len(pipeline.declarations) == 1:
            scope.variables[pipeline.declarations[0]] = value
        return value

    def _command(self, command: tuple[Any, ...], scope: _Scope, piped: Any) -> Any:
        head, args = command[0], command[1:]
        if isinstance(head, _Function):
            values = [self._operand(arg, scope) for arg in args]
            if piped is not _NO_INPUT:
                values.append(piped)
            return self._call(head.name, values)
        if args or piped is not _NO_INPUT:
            raise TemplateError("can't give argument to non-function")
        return self._operand(head, scope)

    def _call(self, name: str, values: list[Any]) -> Any:
        function = _FUNCTIONS.get(name) or (lambda source: _string(source) == self._source)
        try:
            return function(*values)
        except TypeError as exc:
            raise TemplateError(f"error calling {name}: {exc}") from exc

    def _operand(self, arg: Any, scope: _Scope) -> Any:
        if isinstance(arg, _Literal):
            return arg.value
        if isinstance(arg, _Field):
            return self._walk(scope.dot, arg.chain)
        if isinstance(arg, _Variable):
            if arg.name not in scope.variables:
                raise TemplateError(f"undefined variable {arg.name}")
            return self._walk(scope.variables[arg.name], arg.chain)
        if isinstance(arg, _SubPipeline):
            return self._walk(self._pipeline(arg.pipeline, scope), arg.chain)
        raise TemplateError(f"{arg.name} is a function, not a value")  # a bare function name as an argument

    def _walk(self, value: Any, chain: tuple[str, ...]) -> Any:
        previous = ""
        for name in chain:
            if value is self._root:
                value = _root_field(value, name)
            else:
                value = _child(value, name, is_map=previous in _MAP_FIELDS)
            previous = name.lower()
        return value


_NO_INPUT = object()
