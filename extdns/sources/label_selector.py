"""A `metav1.LabelSelector` object (`matchLabels`, `matchExpressions`) read as a Selector."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extdns.sources.objects import as_str
from extdns.sources.selectors import Operator, Requirement, Selector

__all__ = ["selector_of"]

_OPERATORS = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
}


def selector_of(found: Any) -> Selector | None:
    """The selector, or None when it is absent or invalid: such a selector matches nothing.

    An empty selector (`{}`) matches everything. `In`/`NotIn` need values, `Exists`/`DoesNotExist` none.
    """
    if not isinstance(found, Mapping):
        return None
    requirements: list[Requirement] = []
    match_labels = found.get("matchLabels") or {}
    if not isinstance(match_labels, Mapping):
        return None
    for key, value in sorted(match_labels.items()):
        text = as_str(value)
        if text is None:
            return None
        requirements.append(Requirement(str(key), Operator.EQUALS, (text,)))
    expressions = found.get("matchExpressions") or []
    if not isinstance(expressions, list):
        return None
    for expression in expressions:
        requirement = _requirement(expression)
        if requirement is None:
            return None
        requirements.append(requirement)
    return Selector(tuple(requirements))


def _requirement(expression: Any) -> Requirement | None:
    if not isinstance(expression, Mapping):
        return None
    key, operator = as_str(expression.get("key")), _OPERATORS.get(str(expression.get("operator")))
    raw_values = expression.get("values") or []
    values = [as_str(value) for value in raw_values] if isinstance(raw_values, list) else [None]
    if not key or operator is None or any(value is None for value in values):
        return None
    needs_values = operator in (Operator.IN, Operator.NOT_IN)
    if needs_values != bool(values):
        return None
    return Requirement(key, operator, tuple(value for value in values if value is not None))
