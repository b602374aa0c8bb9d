"""Label-selector syntax for --label-filter and --annotation-filter: parsing, matching, errors."""

from __future__ import annotations

import pytest

from extdns.sources.selectors import Operator, Requirement, SelectorError, parse_selector


@pytest.mark.parametrize(
    ("text", "requirements"),
    [
        ("", ()),
        ("   ", ()),
        ("a=b", (Requirement("a", Operator.EQUALS, ("b",)),)),
        ("a==b", (Requirement("a", Operator.EQUALS, ("b",)),)),
        ("a = b", (Requirement("a", Operator.EQUALS, ("b",)),)),
        ("a!=b", (Requirement("a", Operator.NOT_EQUALS, ("b",)),)),
        ("a=", (Requirement("a", Operator.EQUALS, ("",)),)),
        ("a in (x, y)", (Requirement("a", Operator.IN, ("x", "y")),)),
        ("a notin (x)", (Requirement("a", Operator.NOT_IN, ("x",)),)),
        ("a", (Requirement("a", Operator.EXISTS),)),
        ("!a", (Requirement("a", Operator.DOES_NOT_EXIST),)),
        ("a>3", (Requirement("a", Operator.GREATER_THAN, ("3",)),)),
        ("a<3", (Requirement("a", Operator.LESS_THAN, ("3",)),)),
        (
            "app.kubernetes.io/name=web,tier",
            (
                Requirement("app.kubernetes.io/name", Operator.EQUALS, ("web",)),
                Requirement("tier", Operator.EXISTS),
            ),
        ),
        (
            "kubernetes.io/ingress.class in (nginx-internal,traefik)",
            (Requirement("kubernetes.io/ingress.class", Operator.IN, ("nginx-internal", "traefik")),),
        ),
    ],
)
def test_parse(text: str, requirements: tuple[Requirement, ...]) -> None:
    assert parse_selector(text).requirements == requirements


@pytest.mark.parametrize(
    "text",
    [
        "=b",
        "a b",
        "a in ()",
        "a in (x",
        "a in x",
        "a=b=c",
        "a>x",
        "!",
        "a,",
        "-a=b",
        "a=" + "x" * 64,
        "Bad_Prefix/a=b",
        "/a=b",
        "a=b c",
        "a in (x y)",
    ],
)
def test_invalid(text: str) -> None:
    with pytest.raises(SelectorError, match="invalid selector"):
        parse_selector(text)


LABELS = {"app": "web", "tier": "front", "count": "5"}


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("", True),
        ("app=web", True),
        ("app=db", False),
        ("app!=db", True),
        ("app!=web", False),
        ("missing!=x", True),
        ("app in (db,web)", True),
        ("app in (db)", False),
        ("missing in (x)", False),
        ("app notin (db)", True),
        ("app notin (web)", False),
        ("missing notin (x)", True),
        ("tier", True),
        ("missing", False),
        ("!missing", True),
        ("!tier", False),
        ("count>4", True),
        ("count>5", False),
        ("count<6", True),
        ("app>1", False),
        ("missing<1", False),
        ("app=web,tier=front", True),
        ("app=web,tier=back", False),
    ],
)
def test_matches(text: str, matches: bool) -> None:
    assert parse_selector(text).matches(LABELS) is matches


def test_matches_none_labels() -> None:
    assert parse_selector("!a").matches(None)
    assert not parse_selector("a").matches(None)
    assert parse_selector("").empty
