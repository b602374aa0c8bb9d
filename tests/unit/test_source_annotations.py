"""Annotations (both prefixes, custom prefix), hostname lists, TTL and Go durations."""

from __future__ import annotations

import pytest

from extdns.sources.annotations import (
    DEFAULT_PREFIX,
    LEGACY_PREFIX,
    Access,
    AnnotationReader,
    EndpointsType,
    HostnameSource,
    annotation_prefixes,
    split_hostnames,
)
from extdns.sources.durations import parse_go_duration, parse_ttl

NEW = "external-dns.kubernetes.io/"
OLD = "external-dns.alpha.kubernetes.io/"


def test_prefix_constants() -> None:
    assert (DEFAULT_PREFIX, LEGACY_PREFIX) == (NEW, OLD)


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        (NEW, (NEW, OLD)),
        (OLD, (OLD, NEW)),
        ("example.com/", ("example.com/",)),
    ],
)
def test_prefixes_read(configured: str, expected: tuple[str, ...]) -> None:
    assert annotation_prefixes(configured) == expected


@pytest.mark.parametrize(
    ("annotations", "prefix", "expected"),
    [
        ({NEW + "hostname": "a.org"}, NEW, ["a.org"]),
        ({OLD + "hostname": "a.org"}, NEW, ["a.org"]),
        ({NEW + "hostname": "new.org", OLD + "hostname": "old.org"}, NEW, ["new.org"]),
        ({NEW + "hostname": "new.org", OLD + "hostname": "old.org"}, OLD, ["old.org"]),
        ({"example.com/hostname": "c.org", NEW + "hostname": "a.org"}, "example.com/", ["c.org"]),
        ({NEW + "hostname": "a.org"}, "example.com/", []),
        ({}, NEW, []),
    ],
)
def test_hostname_under_prefixes(annotations: dict[str, str], prefix: str, expected: list[str]) -> None:
    assert AnnotationReader(annotations, prefix).hostnames() == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a.org", ["a.org"]),
        ("a.org.,b.org.", ["a.org", "b.org"]),
        (" a.org , b.org ", ["a.org", "b.org"]),
        ("a .org", ["a.org"]),
        ("a.org,,b.org,", ["a.org", "b.org"]),
        ("", []),
        (" , ", []),
    ],
)
def test_split_hostnames(value: str, expected: list[str]) -> None:
    assert split_hostnames(value) == expected


def test_lists_for_internal_hostname_and_target() -> None:
    reader = AnnotationReader({OLD + "internal-hostname": "i.org.", NEW + "target": "1.2.3.4, lb.org."})
    assert reader.internal_hostnames() == ["i.org"]
    assert reader.targets() == ["1.2.3.4", "lb.org"]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("60", 60),
        ("1m", 60),
        ("10s", 10),
        ("1h30m", 5400),
        ("1.5s", 1),
        ("90s", 90),
        ("+20", 20),
        ("2147483647", 2147483647),
        (" 30 ", 30),
    ],
)
def test_ttl_valid(value: str, seconds: int) -> None:
    assert AnnotationReader({NEW + "ttl": value}).ttl() == (seconds, "")


@pytest.mark.parametrize(
    "value", ["garbage", "0", "-5", "500ms", "2147483648", "1x", "", "1.5", "s", "10 s", "\u0661\u0660"]
)
def test_ttl_invalid_is_ignored_with_a_reason(value: str) -> None:
    ttl, problem = AnnotationReader({OLD + "ttl": value}).ttl()
    assert ttl == 0
    assert problem.startswith(f"annotation {OLD}ttl={value!r} ignored: ")


def test_ttl_unset() -> None:
    assert AnnotationReader({}).ttl() == (0, "")


@pytest.mark.parametrize(
    ("text", "nanos"),
    [
        ("0", 0),
        ("1ns", 1),
        ("1us", 1_000),
        ("1\u00b5s", 1_000),
        ("1\u03bcs", 1_000),
        ("1ms", 1_000_000),
        ("1.5h", 5_400_000_000_000),
        ("-1m", -60_000_000_000),
        ("1h2m3s4ms", 3_723_004_000_000),
        (".5s", 500_000_000),
        ("5.s", 5_000_000_000),
    ],
)
def test_go_durations(text: str, nanos: int) -> None:
    assert parse_go_duration(text) == nanos


@pytest.mark.parametrize("text", ["", "1", "s", ".s", "1d", "1m-1s", "--1s", "9999999999h"])
def test_go_durations_invalid(text: str) -> None:
    with pytest.raises(ValueError):
        parse_go_duration(text)


def test_parse_ttl_truncates_like_go() -> None:
    assert parse_ttl("59.9s") == 59
    with pytest.raises(ValueError, match="between 1 and 2147483647"):
        parse_ttl("-1.5s")


def test_controller() -> None:
    assert AnnotationReader({}).controller() is None
    assert AnnotationReader({OLD + "controller": "dns-controller"}).controller() == "dns-controller"


@pytest.mark.parametrize(
    ("value", "expected", "problem"),
    [
        (None, Access.DEFAULT, False),
        ("public", Access.PUBLIC, False),
        ("private", Access.PRIVATE, False),
        ("Public", Access.DEFAULT, True),
        ("everyone", Access.DEFAULT, True),
    ],
)
def test_access(value: str | None, expected: Access, problem: bool) -> None:
    annotations = {} if value is None else {NEW + "access": value}
    found, reason = AnnotationReader(annotations).access()
    assert found is expected
    assert bool(reason) is problem


@pytest.mark.parametrize(
    ("value", "expected", "problem"),
    [
        ("NodeExternalIP", EndpointsType.NODE_EXTERNAL_IP, False),
        ("HostIP", EndpointsType.HOST_IP, False),
        ("PodIP", EndpointsType.DEFAULT, True),
    ],
)
def test_endpoints_type(value: str, expected: EndpointsType, problem: bool) -> None:
    found, reason = AnnotationReader({OLD + "endpoints-type": value}).endpoints_type()
    assert found is expected
    assert bool(reason) is problem


@pytest.mark.parametrize(
    ("value", "expected", "problem"),
    [
        ("defined-hosts-only", HostnameSource.DEFINED_HOSTS_ONLY, False),
        ("Annotation-Only", HostnameSource.ANNOTATION_ONLY, False),
        ("", HostnameSource.ALL, False),
        ("both", HostnameSource.ALL, True),
    ],
)
def test_ingress_hostname_source(value: str, expected: HostnameSource, problem: bool) -> None:
    found, reason = AnnotationReader({NEW + "ingress-hostname-source": value}).hostname_source()
    assert found is expected
    assert bool(reason) is problem


def test_provider_specific_keeps_coredns_properties_only() -> None:
    reader = AnnotationReader(
        {
            OLD + "coredns-group": "old",
            NEW + "coredns-group": "g1",
            NEW + "coredns-other": "x",
            NEW + "aws-weight": "10",
            NEW + "cloudflare-proxied": "true",
            NEW + "coredns-": "empty",
        }
    )
    assert reader.provider_specific() == {"coredns/group": "g1", "coredns/other": "x"}


def test_set_identifier() -> None:
    assert AnnotationReader({OLD + "set-identifier": " eu "}).set_identifier() == "eu"
    assert AnnotationReader({}).set_identifier() == ""
