"""Spec of desired-endpoint checks: bad input is skipped with a reason naming the endpoint."""

from __future__ import annotations

import pytest

from extdns.desired_checks import validate_desired
from extdns.endpoint import Endpoint
from extdns.provider import SyncConfig

CFG = SyncConfig(managed_record_types=frozenset({"A", "AAAA", "CNAME", "TXT", "PTR"}))


def ep(name: str, rtype: str, *targets: str, **kwargs: object) -> Endpoint:
    return Endpoint(name, rtype, targets, labels={"resource": "service/ns/svc"}, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        (ep("a" * 64 + ".example.org", "A", "1.1.1.1"), "longer than 63"),
        (ep("foo..example.org", "A", "1.1.1.1"), "empty label"),
        (ep("foo.example.org", "A", "1.1.1.1", ttl=-1), "TTL -1"),
        (ep("foo.example.org", "A", "1.1.1.1", ttl=2**31), "TTL"),
        (ep("foo.example.org", "A", "1.1.1.1", ttl="60s"), "TTL '60s'"),
        (ep("foo.example.org", "A", "2001:db8::1"), "not an A address"),
        (ep("foo.example.org", "AAAA", "1.1.1.1"), "not an AAAA address"),
        (ep("foo.example.org", "CNAME", "1.1.1.1"), "is an IP address"),
        (ep("foo.example.org", "CNAME", "bad..target"), "CNAME target"),
        (ep("foo.example.org", "A"), "no targets"),
        (ep("foo.example.org", "A", "1.1.1.1", set_identifier="eu"), "set identifier"),
        (ep("foo.example.org", "PTR", "x.org"), "in-addr.arpa"),
        (ep("foo.example.org", "TXT", "heritage=external-dns,external-dns/owner=x"), "ownership text"),
        (ep("x" * 62 + ".example.org", "CNAME", "x.org"), "ownership TXT record cannot be named"),
    ],
)
def test_bad_endpoints_are_rejected_naming_the_endpoint(endpoint: Endpoint, reason: str) -> None:
    accepted, rejected = validate_desired([endpoint, ep("ok.example.org", "A", "1.1.1.1")], CFG)
    assert [e.dns_name for e in accepted] == ["ok.example.org"]
    (rejection,) = rejected
    assert reason in rejection.reason
    assert "service/ns/svc" in rejection.subject


def test_names_are_normalised() -> None:
    (accepted,), _ = validate_desired([ep("Bücher.Example.", "A", "1.1.1.1")], CFG)
    assert accepted.dns_name == "xn--bcher-kva.example"


def test_reverse_names_keep_one_target_and_say_so() -> None:
    (accepted,), (note,) = validate_desired([ep("1.0.0.10.in-addr.arpa", "PTR", "b.org", "a.org")], CFG)
    assert accepted.targets == ("a.org",)
    assert "dropped b.org" in note.reason


def test_unmanaged_types_pass_through_for_the_planner_to_ignore() -> None:
    endpoint = ep("foo.example.org", "SRV", "0 50 80 x.org")
    assert validate_desired([endpoint], SyncConfig()) == ([endpoint], [])


def test_config_refuses_types_the_layout_cannot_hold() -> None:
    with pytest.raises(ValueError, match="cannot write SRV"):
        SyncConfig(managed_record_types=frozenset({"A", "srv"}))
