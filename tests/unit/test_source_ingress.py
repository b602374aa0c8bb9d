"""The ingress source: rules, TLS hosts, annotations, hostname source, targets and class filtering."""

from __future__ import annotations

from typing import Any

import pytest

from extdns.sources import SourceConfig, ingress_endpoints

A = "external-dns.kubernetes.io/"
ALPHA = "external-dns.alpha.kubernetes.io/"
Records = set[tuple[str, str, tuple[str, ...]]]
LB = {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}


def ingress(
    rules: list[str] | None = None,
    tls: list[list[str]] | None = None,
    annotations: dict[str, str] | None = None,
    status: dict[str, Any] | None = None,
    class_name: str | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"rules": [{"host": host} if host else {} for host in (rules or [])]}
    if tls is not None:
        spec["tls"] = [{"hosts": hosts, "secretName": "s"} for hosts in tls]
    if class_name is not None:
        spec["ingressClassName"] = class_name
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "ing", "namespace": "ns", "annotations": annotations or {}},
        "spec": spec,
        "status": LB if status is None else status,
    }


def records(ing: dict[str, Any], cfg: SourceConfig | None = None) -> Records:
    result = ingress_endpoints(ing, cfg or SourceConfig())
    assert result.rejections == []
    return {(e.dns_name, e.record_type, e.targets) for e in result.endpoints}


def names(ing: dict[str, Any], cfg: SourceConfig | None = None) -> set[str]:
    return {name for name, _, _ in records(ing, cfg)}


@pytest.mark.parametrize(
    ("ing", "cfg", "expected"),
    [
        (ingress(["a.example.org", ""]), SourceConfig(), {"a.example.org"}),
        (
            ingress(["a.example.org"], [["b.example.org", "a.example.org"]]),
            SourceConfig(),
            {"a.example.org", "b.example.org"},
        ),
        (ingress([], [["b.example.org"]]), SourceConfig(), {"b.example.org"}),
        (
            ingress(["a.example.org"], [["b.example.org"]]),
            SourceConfig(ignore_ingress_tls_spec=True),
            {"a.example.org"},
        ),
        (
            ingress(["a.example.org"], [["b.example.org"]]),
            SourceConfig(ignore_ingress_rules_spec=True),
            {"b.example.org"},
        ),
        (
            ingress(["a.example.org"], [["b.example.org"]]),
            SourceConfig(ignore_ingress_rules_spec=True, ignore_ingress_tls_spec=True),
            set(),
        ),
        (
            ingress(["a.example.org"], annotations={A + "hostname": "c.example.org., d.example.org"}),
            SourceConfig(),
            {"a.example.org", "c.example.org", "d.example.org"},
        ),
        (ingress([], annotations={ALPHA + "hostname": "c.example.org"}), SourceConfig(), {"c.example.org"}),
        (ingress(["*.example.org"]), SourceConfig(), {"*.example.org"}),
        (ingress(["A.Example.ORG"]), SourceConfig(), {"a.example.org"}),
    ],
    ids=[
        "rules",
        "rules-and-tls",
        "tls-only",
        "ignore-tls",
        "ignore-rules",
        "ignore-both",
        "annotation",
        "alpha-annotation",
        "wildcard",
        "case-folded",
    ],
)
def test_hostnames(ing: dict[str, Any], cfg: SourceConfig, expected: set[str]) -> None:
    assert names(ing, cfg) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (None, {"a.example.org", "t.example.org", "c.example.org"}),
        ("defined-hosts-only", {"a.example.org", "t.example.org"}),
        ("annotation-only", {"c.example.org"}),
    ],
)
def test_ingress_hostname_source(source: str | None, expected: set[str]) -> None:
    annotations = {A + "hostname": "c.example.org"}
    if source:
        annotations[A + "ingress-hostname-source"] = source
    assert names(ingress(["a.example.org"], [["t.example.org"]], annotations), SourceConfig()) == expected


def test_unknown_hostname_source_uses_both_and_says_so() -> None:
    ing = ingress(
        ["a.example.org"], annotations={A + "hostname": "c.example.org", A + "ingress-hostname-source": "x"}
    )
    result = ingress_endpoints(ing, SourceConfig())
    assert {e.dns_name for e in result.endpoints} == {"a.example.org", "c.example.org"}
    assert [r.subject for r in result.rejections] == ["ingress/ns/ing"]


@pytest.mark.parametrize(
    ("annotations", "status", "expected"),
    [
        ({}, LB, {("a.example.org", "A", ("1.2.3.4",))}),
        (
            {},
            {
                "loadBalancer": {
                    "ingress": [{"ip": "1.2.3.4", "hostname": "lb.aws.com"}, {"ip": "2001:db8::1"}]
                }
            },
            {
                ("a.example.org", "A", ("1.2.3.4",)),
                ("a.example.org", "AAAA", ("2001:db8::1",)),
                ("a.example.org", "CNAME", ("lb.aws.com",)),
            },
        ),
        (
            {A + "target": "5.5.5.5,edge.example.net."},
            LB,
            {("a.example.org", "A", ("5.5.5.5",)), ("a.example.org", "CNAME", ("edge.example.net",))},
        ),
        ({}, {}, set()),
    ],
    ids=["status-ip", "status-ip-hostname-v6", "target-annotation", "no-status"],
)
def test_targets(annotations: dict[str, str], status: dict[str, Any], expected: Records) -> None:
    assert records(ingress(["a.example.org"], annotations=annotations, status=status)) == expected


@pytest.mark.parametrize(
    ("class_name", "annotation", "flag", "selected"),
    [
        (None, None, (), True),
        ("nginx", None, (), True),
        ("nginx", None, ("nginx",), True),
        ("traefik", None, ("nginx",), False),
        (None, "nginx", ("nginx", "haproxy"), True),
        (None, "traefik", ("nginx",), False),
        ("traefik", "nginx", ("nginx",), False),
        ("", "nginx", ("nginx",), True),
        (None, None, ("nginx",), False),
    ],
    ids=[
        "no-filter",
        "class-no-filter",
        "class-match",
        "class-mismatch",
        "legacy-annotation",
        "legacy-mismatch",
        "class-beats-annotation",
        "empty-class-uses-annotation",
        "no-class",
    ],
)
def test_ingress_class(
    class_name: str | None, annotation: str | None, flag: tuple[str, ...], selected: bool
) -> None:
    annotations = {"kubernetes.io/ingress.class": annotation} if annotation else {}
    ing = ingress(["a.example.org"], annotations=annotations, class_name=class_name)
    assert bool(names(ing, SourceConfig(ingress_class=flag))) is selected


def test_ingress_class_and_annotation_filter_on_class_conflict() -> None:
    with pytest.raises(ValueError, match="--ingress-class"):
        SourceConfig(ingress_class=("nginx",), annotation_filter="kubernetes.io/ingress.class=nginx")


TEMPLATE = ("{{.Name}}.{{.Namespace}}.example.com",)


@pytest.mark.parametrize(
    ("rules", "cfg", "expected"),
    [
        ([], SourceConfig(fqdn_templates=TEMPLATE), {"ing.ns.example.com"}),
        (["a.example.org"], SourceConfig(fqdn_templates=TEMPLATE), {"a.example.org"}),
        (
            ["a.example.org"],
            SourceConfig(fqdn_templates=TEMPLATE, combine_fqdn_annotation=True),
            {"a.example.org", "ing.ns.example.com"},
        ),
    ],
)
def test_template(rules: list[str], cfg: SourceConfig, expected: set[str]) -> None:
    assert names(ingress(rules), cfg) == expected


def test_ignore_hostname_annotation_keeps_spec_hosts() -> None:
    cfg = SourceConfig(fqdn_templates=TEMPLATE, ignore_hostname_annotation=True)
    ing = ingress(["a.example.org"], annotations={A + "hostname": "c.example.org"})
    assert names(ing, cfg) == {"a.example.org"}


def test_filters_and_fields() -> None:
    ing = ingress(["a.example.org"], annotations={A + "ttl": "45", A + "coredns-group": "g"})
    assert names(ing, SourceConfig(namespace="other")) == set()
    assert names(ing, SourceConfig(label_filter="team=x")) == set()
    (endpoint,) = ingress_endpoints(ing, SourceConfig()).endpoints
    assert (endpoint.ttl, endpoint.group, endpoint.resource) == (45, "g", "ingress/ns/ing")
