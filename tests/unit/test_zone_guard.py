"""Zone guard: CoreDNS's reserved `dns` label and the --namespace-domains tenancy map, and where they apply."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from extdns.domainfilter import DomainFilter
from extdns.sources import Cluster, SourceConfig
from extdns.sources.collect import collect
from extdns.zone_guard import RESERVED, TENANCY, ZoneGuard, parse_namespace_domains
from process import settings as s

HOSTNAME = "external-dns.kubernetes.io/hostname"

# ----------------------------------------------------------------------------- reserved names

# Without domain filters the zone is unknown: only names CoreDNS would read as some zone's apex/NS.
NO_FILTER = [
    ("apex.dns.example.org", True),
    ("ns.dns.example.org", True),
    ("ns1.ns.dns.example.org", True),  # inside the ns.dns subtree CoreDNS reads for NS
    ("x.apex.dns.sub.example.org", True),
    ("APEX.DNS.Example.Org.", True),
    ("apex.dns", True),
    ("dns.example.org", False),
    ("x.dns.example.org", False),
    ("apex.example.org", False),
    ("dns.apex.example.org", False),
    ("apexdns.example.org", False),
    ("myapex.dns.example.org", False),
    ("www.example.org", False),
]


@pytest.mark.parametrize(("name", "refused"), NO_FILTER)
def test_without_filters_only_apex_dns_and_ns_dns_are_refused(name: str, refused: bool) -> None:
    found = ZoneGuard().check("default", name)
    assert (found is not None) == refused
    if found is not None:
        assert found.rule == RESERVED and name.lower().rstrip(".") in found.reason


WITH_FILTER = [
    ("dns.example.org", True),
    ("x.dns.example.org", True),
    ("apex.dns.example.org", True),
    ("a.b.dns.example.org", True),
    ("dns.sub.example.org", True),  # a filter domain of its own: its reserved label too
    ("apex.dns.deep.example.org", True),  # a CoreDNS zone below the filter domain
    ("dns.deep.example.org", False),  # deep.example.org is no filter domain
    ("web.example.org", False),
    ("dnsx.example.org", False),
    ("dns.other.org", False),  # out of scope: not written anyway, not judged
    ("apex.dns.other.org", False),
]


@pytest.mark.parametrize(("name", "refused"), WITH_FILTER)
def test_with_domain_filters_the_dns_label_of_each_filter_domain_is_refused(name: str, refused: bool) -> None:
    guard = ZoneGuard(DomainFilter(domains=("example.org", ".sub.example.org")))
    found = guard.check("default", name)
    assert (found is not None) == refused, found
    if found is not None:
        assert found.rule == RESERVED


def test_the_reason_names_the_name_and_the_zone() -> None:
    reason = ZoneGuard(DomainFilter(domains=("example.org",))).check("ns", "x.dns.example.org")
    assert reason is not None
    assert "x.dns.example.org" in reason.reason and "dns.example.org" in reason.reason
    apex = ZoneGuard().check("ns", "apex.dns.example.org")
    assert apex is not None and "example.org" in apex.reason and "apex" in apex.reason


def test_excluded_names_are_not_judged() -> None:
    guard = ZoneGuard(DomainFilter(domains=("example.org",), exclusions=("dns.example.org",)))
    assert guard.check("ns", "apex.dns.example.org") is None


# ----------------------------------------------------------------------------- tenancy

TENANTS = {"team-a": ("a.example.org", "shared.example.org"), "team-b": ("b.example.org",), "*": ("pub.org",)}

TENANCY_CASES = [
    ("team-a", "a.example.org", True),
    ("team-a", "web.a.example.org", True),
    ("team-a", "x.shared.example.org", True),
    ("team-a", "b.example.org", False),
    ("team-a", "xa.example.org", False),  # a suffix is whole labels
    ("team-b", "web.a.example.org", False),
    ("team-b", "web.b.example.org", True),
    ("team-b", "WEB.B.Example.Org.", True),
    ("team-b", "web.pub.org", True),  # `*` domains: every namespace
    ("team-c", "web.pub.org", True),
    ("team-c", "web.c.example.org", False),  # not in the map: only the `*` domains
    ("", "web.a.example.org", False),
]


@pytest.mark.parametrize(("namespace", "name", "allowed"), TENANCY_CASES)
def test_a_namespace_claims_only_its_domains(namespace: str, name: str, allowed: bool) -> None:
    found = ZoneGuard(namespace_domains=TENANTS).check(namespace, name)
    assert (found is None) == allowed, found
    if found is not None:
        assert (
            found.rule == TENANCY and namespace in found.reason and name.lower().rstrip(".") in found.reason
        )


def test_without_a_star_entry_an_unlisted_namespace_claims_nothing() -> None:
    guard = ZoneGuard(namespace_domains={"team-a": ("a.example.org",)})
    assert guard.check("team-z", "a.example.org") is not None
    assert ZoneGuard(namespace_domains={"team-a": ()}).check("team-a", "a.example.org") is not None


def test_a_leading_dot_allows_subdomains_only() -> None:
    guard = ZoneGuard(namespace_domains={"team-a": (".a.example.org",)})
    assert guard.check("team-a", "web.a.example.org") is None
    assert guard.check("team-a", "a.example.org") is not None


def test_tenancy_is_off_by_default_and_reserved_names_win() -> None:
    assert ZoneGuard().check("anything", "web.example.org") is None
    found = ZoneGuard(namespace_domains={"team-a": ("example.org",)}).check("team-a", "ns.dns.example.org")
    assert found is not None and found.rule == RESERVED


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([], None),
        (["team-a=a.example.org,shared.example.org;team-b=b.example.org"],
         {"team-a": ("a.example.org", "shared.example.org"), "team-b": ("b.example.org",)}),
        (["team-a=a.example.org", "team-a=Shared.Example.Org.", "team-b=b.example.org"],
         {"team-a": ("a.example.org", "shared.example.org"), "team-b": ("b.example.org",)}),
        (["team-a=a.example.org team-b="], {"team-a": ("a.example.org",), "team-b": ()}),
        (["*=pub.org;team-a=.a.example.org"], {"*": ("pub.org",), "team-a": (".a.example.org",)}),
    ],
)  # fmt: skip
def test_the_map_syntax(entries: list[str], expected: dict[str, tuple[str, ...]] | None) -> None:
    assert parse_namespace_domains(entries) == expected


@pytest.mark.parametrize(
    "entry",
    ["team-a", "=a.example.org", "Team_A=a.example.org", "team-a=a..example.org", "team-a=a.exa mple.org"],
)
def test_a_bad_map_entry_is_an_error_naming_the_flag(entry: str) -> None:
    with pytest.raises(ValueError, match="--namespace-domains"):
        parse_namespace_domains([entry])


# ----------------------------------------------------------------------------- where it applies


def lb_service(namespace: str, name: str, hostnames: str, ip: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{name}",
            "annotations": {HOSTNAME: hostnames},
        },
        "spec": {"type": "LoadBalancer"},
        "status": {"loadBalancer": {"ingress": [{"ip": ip}]}},
    }


def test_collect_drops_refused_names_and_reports_each_once_keeping_the_rest() -> None:
    cluster = Cluster.from_objects([
        lb_service("team-a", "mixed", "apex.dns.example.org,web.a.example.org", "192.0.2.1"),
        lb_service("team-b", "thief", "app.a.example.org", "192.0.2.2"),
        lb_service("team-b", "fine", "app.b.example.org", "192.0.2.3"),
    ])  # fmt: skip
    cfg = SourceConfig(
        zone_guard=ZoneGuard(namespace_domains={"team-a": ("a.example.org",), "team-b": ("b.example.org",)})
    )
    found = collect(cluster, cfg, ("service",))
    assert sorted(e.dns_name for e in found.endpoints) == ["app.b.example.org", "web.a.example.org"]
    by_object = {(r.namespace, r.name, r.rule) for r in found.rejections}
    assert by_object == {("team-a", "mixed", RESERVED), ("team-b", "thief", TENANCY)}
    assert all(r.ref.uid for r in found.rejections), "the Event needs the object's uid"
    assert {n for names in found.claims.values() for n in names} == {"web.a.example.org", "app.b.example.org"}


def test_the_default_source_config_refuses_apex_dns() -> None:
    found = collect(
        Cluster.from_objects([lb_service("ns", "s", "apex.dns.example.org", "192.0.2.1")]), SourceConfig()
    )
    assert found.endpoints == [] and [r.rule for r in found.rejections] == [RESERVED]


def settings(*argv: str) -> s.Settings:
    p = argparse.ArgumentParser()
    s.add_flags(p)
    return s.load(p.parse_args(["--policy", "sync", *argv]))


def test_the_setting_from_flags_and_env_reaches_the_source_config(monkeypatch: pytest.MonkeyPatch) -> None:
    guard = settings(
        "--namespace-domains", "team-a=a.example.org", "--namespace-domains", "team-b=b.example.org",
        "--domain-filter", "example.org",
    ).source_config().zone_guard  # fmt: skip
    assert guard.check("team-a", "web.a.example.org") is None
    assert guard.check("team-b", "web.a.example.org") is not None
    assert guard.check("team-a", "x.dns.example.org") is not None
    monkeypatch.setenv(
        "EXTERNAL_DNS_NAMESPACE_DOMAINS", "team-a=a.example.org,shared.org;team-b=b.example.org"
    )
    guard = settings().source_config().zone_guard
    assert guard.check("team-a", "x.shared.org") is None and guard.check("team-b", "x.shared.org") is not None


def test_a_bad_setting_stops_start_up_with_one_line() -> None:
    with pytest.raises(s.SettingsError, match="--namespace-domains") as err:
        settings("--namespace-domains", "team-a")
    assert "\n" not in str(err.value)
