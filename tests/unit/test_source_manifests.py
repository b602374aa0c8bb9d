"""Manifests (YAML, JSON, List) to objects, and endpoints out as ExternalDNS JSON or a table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from extdns.endpoint import Endpoint
from extdns.sources import (
    Cluster,
    ManifestError,
    SourceConfig,
    endpoints_for,
    endpoints_table,
    endpoints_to_json,
    load_manifests,
)

DATA = Path(__file__).parent / "data" / "sources"


def test_multi_document_yaml_with_lists_and_defaults() -> None:
    objects = load_manifests(
        """
---
apiVersion: v1
kind: Service
metadata: {name: a}
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Pod, metadata: {name: p, namespace: prod}}
- {apiVersion: v1, kind: Node, metadata: {name: n}}
---
apiVersion: v1
kind: ServiceList
items:
- metadata: {name: b, namespace: ""}
---
"""
    )
    assert [(o["kind"], o["metadata"].get("namespace")) for o in objects] == [
        ("Service", "default"),
        ("Pod", "prod"),
        ("Node", None),
        ("Service", "default"),
    ]


def test_json_input() -> None:
    text = json.dumps({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "x"}})
    assert load_manifests(text) == [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "x"}}
    ]
    assert load_manifests("") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [1, 2", "f.yaml: not valid YAML or JSON"),
        ("- 1\n- 2", "f.yaml: document 1: expected a Kubernetes object, got list"),
        ("apiVersion: v1\nmetadata: {}", "f.yaml: document 1: object has no kind"),
        ("kind: List\nitems: {a: 1}", "f.yaml: document 1: List.items is not a list"),
        ("kind: List\nitems: [{metadata: {}}]", "f.yaml: document 1 item 0: object has no kind"),
    ],
)
def test_unreadable_input(text: str, message: str) -> None:
    with pytest.raises(ManifestError) as info:
        load_manifests(text, "f.yaml")
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_fixture_cluster_end_to_end() -> None:
    cluster = Cluster.from_objects(load_manifests((DATA / "cluster.yaml").read_text()))
    endpoints, rejections = endpoints_for(cluster, SourceConfig())
    expected = json.loads((DATA / "cluster.expected.json").read_text())
    assert json.loads(endpoints_to_json(endpoints)) == expected
    assert [str(r) for r in rejections] == [
        "service/default/broken: annotation external-dns.alpha.kubernetes.io/ttl='soon' ignored: "
        "invalid duration 'soon'"
    ]


GATEWAY_API_MANIFESTS = """
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {gateway-access: "yes"}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: public, namespace: infra}
spec:
  gatewayClassName: example
  listeners:
  - name: web
    protocol: HTTPS
    port: 443
    hostname: "*.example.org"
    allowedRoutes:
      namespaces:
        from: Selector
        selector: {matchLabels: {gateway-access: "yes"}}
status:
  addresses: [{type: IPAddress, value: 203.0.113.7}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: infra}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: shop}
spec:
  parentRefs: [{name: public, namespace: infra, sectionName: web}]
  hostnames: [shop.example.org, shop.example.net]
status:
  parents:
  - parentRef: {name: public, namespace: infra, sectionName: web}
    controllerName: example.org/gateway
    conditions: [{type: Accepted, status: "True"}]
---
apiVersion: externaldns.k8s.io/v1alpha1
kind: DNSEndpoint
metadata: {name: extra}
spec:
  endpoints:
  - {dnsName: txt.example.org, recordType: TXT, targets: ["v=spf1 -all"], recordTTL: 300}
  - {dnsName: mail.example.org, recordType: MX, targets: ["10 mx.example.org"]}
"""


def test_gateway_api_and_dns_endpoint_manifests() -> None:
    objects = load_manifests(GATEWAY_API_MANIFESTS, "gw.yaml")
    assert [(o["kind"], o["metadata"].get("namespace")) for o in objects] == [
        ("Namespace", None),
        ("Gateway", "infra"),
        ("Gateway", "infra"),
        ("HTTPRoute", "shop"),
        ("DNSEndpoint", "default"),
    ]
    cluster = Cluster.from_objects(objects)
    assert (len(cluster.gateways), len(cluster.http_routes), len(cluster.dns_endpoints)) == (1, 1, 1)
    assert cluster.objects("namespace") == cluster.namespaces
    endpoints, rejections = endpoints_for(cluster, SourceConfig(), ["gateway-httproute", "crd"])
    assert [(e.dns_name, e.record_type, e.targets, e.ttl, e.resource) for e in endpoints] == [
        ("shop.example.org", "A", ("203.0.113.7",), 0, "httproute/shop/web"),
        ("txt.example.org", "TXT", ("v=spf1 -all",), 300, "crd/default/extra"),
    ]
    assert [str(r) for r in rejections] == [
        "crd/default/extra: spec.endpoints[1] mail.example.org MX: "
        "record type 'MX' is not supported by the coredns provider (A, AAAA, CNAME, PTR, TXT)"
    ]


def test_endpoints_to_json_fields() -> None:
    endpoints = [
        Endpoint("b.org", "A", ("2.2.2.2", "1.1.1.1"), 0, "", {"resource": "service/ns/b"}),
        Endpoint(
            "a.org", "CNAME", ("x.net",), 60, "eu", {"resource": "ingress/ns/a"}, {"coredns/group": "g"}
        ),
    ]
    assert json.loads(endpoints_to_json(endpoints)) == {
        "endpoints": [
            {
                "dnsName": "a.org",
                "recordType": "CNAME",
                "targets": ["x.net"],
                "setIdentifier": "eu",
                "recordTTL": 60,
                "labels": {"resource": "ingress/ns/a"},
                "providerSpecific": [{"name": "coredns/group", "value": "g"}],
            },
            {
                "dnsName": "b.org",
                "recordType": "A",
                "targets": ["1.1.1.1", "2.2.2.2"],
                "labels": {"resource": "service/ns/b"},
                "providerSpecific": [],
            },
        ]
    }


def test_endpoints_table() -> None:
    endpoints = [
        Endpoint("www.example.org", "A", ("1.1.1.1", "2.2.2.2"), 300, "", {"resource": "service/ns/web"})
    ]
    assert endpoints_table(endpoints).splitlines() == [
        "NAME             TYPE  TTL  TARGETS          RESOURCE",
        "www.example.org  A     300  1.1.1.1,2.2.2.2  service/ns/web",
    ]
    assert endpoints_table([]) == "NAME  TYPE  TTL  TARGETS  RESOURCE"
