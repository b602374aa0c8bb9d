"""The crd source: DNSEndpoint entries as endpoints, record types the coredns provider cannot store rejected."""

from __future__ import annotations

from typing import Any

import pytest

from extdns.sources import Cluster, SourceConfig, endpoints_for, endpoints_for_object
from extdns.sources.collect import KIND_OF_SOURCE, collect
from extdns.sources.objects import ObjectRef

Obj = dict[str, Any]


def dns_endpoint(
    *entries: Obj,
    name: str = "recs",
    namespace: str = "apps",
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> Obj:
    return {
        "apiVersion": "externaldns.k8s.io/v1alpha1",
        "kind": "DNSEndpoint",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels or {},
            "annotations": annotations or {},
        },
        "spec": {"endpoints": list(entries)},
    }


def entry(name: str, record_type: str, *targets: str, **extra: Any) -> Obj:
    return {"dnsName": name, "recordType": record_type, "targets": list(targets), **extra}


def run(
    obj: Obj, cfg: SourceConfig | None = None
) -> tuple[list[tuple[str, str, tuple[str, ...], int]], list[str]]:
    result = endpoints_for_object("crd", obj, Cluster(), cfg or SourceConfig())
    endpoints = [(e.dns_name, e.record_type, e.targets, e.ttl) for e in result.endpoints]
    return endpoints, [r.reason for r in result.rejections]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            entry("a.example.org", "A", "192.0.2.1", "192.0.2.2"),
            ("a.example.org", "A", ("192.0.2.1", "192.0.2.2"), 0),
        ),
        (entry("v6.example.org", "AAAA", "2001:db8::1"), ("v6.example.org", "AAAA", ("2001:db8::1",), 0)),
        (
            entry("c.example.org", "CNAME", "target.example.net"),
            ("c.example.org", "CNAME", ("target.example.net",), 0),
        ),
        (
            entry("c.example.org", "CNAME", "target.example.net."),
            ("c.example.org", "CNAME", ("target.example.net",), 0),
        ),
        (entry("t.example.org", "TXT", "v=spf1 -all"), ("t.example.org", "TXT", ("v=spf1 -all",), 0)),
        (
            entry("t.example.org", "TXT", "foo.example.org."),
            ("t.example.org", "TXT", ("foo.example.org.",), 0),
        ),
        (
            entry("1.2.0.192.in-addr.arpa", "PTR", "host.example.org"),
            ("1.2.0.192.in-addr.arpa", "PTR", ("host.example.org",), 0),
        ),
        (
            entry("a.example.org", "A", "192.0.2.1", recordTTL=180),
            ("a.example.org", "A", ("192.0.2.1",), 180),
        ),
        (entry("A.Example.ORG.", "A", "192.0.2.1"), ("a.example.org", "A", ("192.0.2.1",), 0)),
        (entry("*.example.org", "A", "192.0.2.1"), ("*.example.org", "A", ("192.0.2.1",), 0)),
    ],
)
def test_supported_record_types(given: Obj, expected: tuple[str, str, tuple[str, ...], int]) -> None:
    assert run(dns_endpoint(given)) == ([expected], [])


@pytest.mark.parametrize("record_type", ["SRV", "MX", "NS", "NAPTR", "CAA", "DNAME", "a", ""])
def test_a_type_the_coredns_provider_cannot_store_is_rejected_and_the_others_kept(record_type: str) -> None:
    obj = dns_endpoint(
        entry("a.example.org", "A", "192.0.2.1"),
        entry("x.example.org", record_type, "10 mail.example.org"),
        entry("b.example.org", "A", "192.0.2.2"),
    )
    result = endpoints_for_object("DNSEndpoint", obj, Cluster(), SourceConfig())
    assert [e.dns_name for e in result.endpoints] == ["a.example.org", "b.example.org"]
    (rejection,) = result.rejections
    assert rejection.ref == ObjectRef("DNSEndpoint", "apps", "recs")
    assert rejection.subject == "crd/apps/recs"
    assert "x.example.org" in rejection.reason and repr(record_type) in rejection.reason
    assert "coredns" in rejection.reason


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        (entry("a.example.org", "A", "192.0.2.1."), "illegal target '192.0.2.1.'"),
        (entry("v6.example.org", "AAAA", "2001:db8::1."), "illegal target"),
        (entry("1.2.0.192.in-addr.arpa", "PTR", "host.example.org."), "illegal target"),
        (entry("a.example.org", "A"), "no targets"),
        ({"dnsName": "a.example.org", "recordType": "A"}, "no targets"),
        (entry("bad..example.org", "A", "192.0.2.1"), "invalid dnsName"),
        (entry("", "A", "192.0.2.1"), "invalid dnsName"),
        ({"dnsName": "a.example.org", "recordType": "A", "targets": "192.0.2.1"}, "list of strings"),
        (entry("a.example.org", "A", "192.0.2.1", recordTTL="60"), "recordTTL"),
        (entry("a.example.org", "A", "192.0.2.1", recordTTL=-1), "recordTTL"),
    ],
)
def test_unusable_entries_are_rejected(given: Obj, problem: str) -> None:
    endpoints, rejections = run(dns_endpoint(given, entry("ok.example.org", "A", "192.0.2.9")))
    assert [name for name, *_ in endpoints] == ["ok.example.org"]
    assert len(rejections) == 1 and problem in rejections[0] and "spec.endpoints[0]" in rejections[0]


def test_labels_set_identifier_provider_specific_and_resource_label() -> None:
    obj = dns_endpoint(
        entry(
            "a.example.org",
            "A",
            "192.0.2.1",
            setIdentifier="blue",
            labels={"team": "web", "resource": "spoofed"},
            providerSpecific=[
                {"name": "coredns/group", "value": "g1"},
                {"name": "aws/weight", "value": "10"},
                {"name": "alias", "value": "true"},
            ],
        )
    )
    (endpoint,) = endpoints_for_object("crd", obj, Cluster(), SourceConfig()).endpoints
    assert endpoint.resource == "crd/apps/recs"
    assert dict(endpoint.labels) == {"team": "web", "resource": "crd/apps/recs"}
    assert endpoint.set_identifier == "blue"
    assert dict(endpoint.provider_specific) == {"coredns/group": "g1"}


def test_min_ttl_fills_in_an_unset_ttl_only() -> None:
    obj = dns_endpoint(
        entry("a.example.org", "A", "192.0.2.1"), entry("b.example.org", "A", "192.0.2.1", recordTTL=5)
    )
    endpoints, _ = run(obj, SourceConfig(min_ttl=60))
    assert [(name, ttl) for name, _, _, ttl in endpoints] == [("a.example.org", 60), ("b.example.org", 5)]


@pytest.mark.parametrize(
    ("obj", "cfg", "selected"),
    [
        (dns_endpoint(entry("a.example.org", "A", "192.0.2.1")), SourceConfig(namespace="apps"), True),
        (dns_endpoint(entry("a.example.org", "A", "192.0.2.1")), SourceConfig(namespace="other"), False),
        (
            dns_endpoint(entry("a.example.org", "A", "192.0.2.1"), labels={"x": "1"}),
            SourceConfig(label_filter="x=1"),
            True,
        ),
        (dns_endpoint(entry("a.example.org", "A", "192.0.2.1")), SourceConfig(label_filter="x=1"), False),
        (
            dns_endpoint(entry("a.example.org", "A", "192.0.2.1"), annotations={"x": "1"}),
            SourceConfig(annotation_filter="x=1"),
            True,
        ),
        (dns_endpoint(entry("a.example.org", "A", "192.0.2.1")), SourceConfig(annotation_filter="x"), False),
        (
            dns_endpoint(
                entry("a.example.org", "A", "192.0.2.1"),
                annotations={"external-dns.kubernetes.io/controller": "someone-else"},
            ),
            SourceConfig(),
            True,
        ),
    ],
)
def test_namespace_label_and_annotation_filters_apply_the_controller_annotation_does_not(
    obj: Obj, cfg: SourceConfig, selected: bool
) -> None:
    endpoints, _ = run(obj, cfg)
    assert bool(endpoints) is selected


def test_malformed_objects_never_raise() -> None:
    specs: list[Any] = [{"endpoints": "x"}, {"endpoints": [None, 3, "x", {}]}, [], None]
    for spec in specs:
        obj = {"kind": "DNSEndpoint", "metadata": {"name": "x", "namespace": "n"}, "spec": spec}
        result = endpoints_for_object("crd", obj, Cluster(), SourceConfig())
        assert result.endpoints == []


def test_collect_merges_dns_endpoints_and_keeps_the_first_resource() -> None:
    cluster = Cluster.from_objects(
        [
            dns_endpoint(entry("a.example.org", "A", "192.0.2.1"), name="one"),
            dns_endpoint(entry("a.example.org", "A", "192.0.2.2"), name="two"),
            dns_endpoint(entry("a.example.org", "MX", "10 mx.example.org"), name="three"),
            {"apiVersion": "example.com/v1", "kind": "DNSEndpoint", "metadata": {"name": "foreign"}},
        ]
    )
    assert len(cluster.dns_endpoints) == 3
    endpoints, rejections = endpoints_for(cluster, SourceConfig(), ["crd"])
    assert [(e.dns_name, e.targets, e.resource) for e in endpoints] == [
        ("a.example.org", ("192.0.2.1", "192.0.2.2"), "crd/apps/one")
    ]
    assert [r.subject for r in rejections] == ["crd/apps/three"]
    assert KIND_OF_SOURCE["crd"] == "DNSEndpoint"
    claims = collect(cluster, SourceConfig(), ["crd"]).claims
    assert claims[ObjectRef("DNSEndpoint", "apps", "three")] == frozenset()
