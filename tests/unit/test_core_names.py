"""Spec of hostname normalisation and IP classification."""

from __future__ import annotations

import pytest

from extdns.addresses import address_type, canonical_address
from extdns.names import InvalidName, is_reverse_name, name_problem, normalize_name


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Foo.Example.ORG.", "foo.example.org"),
        (" foo.example.org ", "foo.example.org"),
        ("*.example.org", "*.example.org"),
        ("_http._tcp.example.org", "_http._tcp.example.org"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("a" * 63 + ".org", "a" * 63 + ".org"),
    ],
)
def test_normalize_name_accepts(raw: str, normal: str) -> None:
    assert normalize_name(raw) == normal


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "is empty"),
        (".", "is empty"),
        ("foo..example.org", "empty label"),
        ("a" * 64 + ".org", "longer than 63"),
        (".".join(["a" * 60] * 5), "longer than 253"),
        ("foo.*.example.org", "'*' in a label other than the first"),
        ("foo bar.example.org", "characters outside"),
        ("foo/bar.example.org", "characters outside"),
    ],
)
def test_normalize_name_rejects_naming_the_culprit(raw: str, reason: str) -> None:
    with pytest.raises(InvalidName, match=reason) as info:
        normalize_name(raw)
    assert repr(raw) in str(info.value) or repr(raw.split(".")[0]) in str(info.value)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("a-*.example.org", None),
        ("foo..org", "empty label"),
        ("x" * 64 + ".org", "longer than 63"),
        ("caf\u00e9.org", "not printable ASCII"),
    ],
)
def test_name_problem_is_lenient_but_guards_what_coredns_can_serve(name: str, problem: str | None) -> None:
    found = name_problem(name)
    assert found is None if problem is None else problem in (found or "")


@pytest.mark.parametrize(
    ("name", "reverse"),
    [("2.0.26.172.in-addr.arpa", True), ("1.0.ip6.arpa", True), ("in-addr.arpa.example.org", False)],
)
def test_is_reverse_name(name: str, reverse: bool) -> None:
    assert is_reverse_name(name) is reverse


@pytest.mark.parametrize(
    ("text", "kind", "canonical"),
    [
        ("1.2.3.4", "A", "1.2.3.4"),
        ("::ffff:1.2.3.4", "A", "1.2.3.4"),
        ("2001:DB8::1", "AAAA", "2001:db8::1"),
        ("01.2.3.4", None, "01.2.3.4"),
        ("fe80::1%eth0", None, "fe80::1%eth0"),
        (" 1.2.3.4", None, " 1.2.3.4"),
        ("example.org", None, "example.org"),
    ],
)
def test_ip_parsing_follows_go(text: str, kind: str | None, canonical: str) -> None:
    assert address_type(text) == kind
    assert canonical_address(text) == canonical
