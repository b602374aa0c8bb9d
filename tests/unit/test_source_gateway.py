"""The Gateway API route sources: parents, status, listeners, hostnames, filters and targets, as ExternalDNS."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from extdns.domainfilter import DomainFilter
from extdns.endpoint import Endpoint
from extdns.sources import Cluster, SourceConfig, endpoints_for, endpoints_for_object, route_gateways
from extdns.sources.collect import KIND_OF_SOURCE, collect
from extdns.sources.config import SOURCES
from extdns.sources.gateway import ROUTE_KINDS, listener_set_gateway, route_endpoints, route_listener_sets
from extdns.sources.gateway_hosts import is_dns1123_domain, matching_host, protocol_matches
from extdns.zone_guard import ZoneGuard

A = "external-dns.kubernetes.io/"
ALPHA = "external-dns.alpha.kubernetes.io/"
GROUP = "gateway.networking.k8s.io"
Obj = dict[str, Any]
Records = set[tuple[str, str, tuple[str, ...]]]


# --- object builders -------------------------------------------------------------------------------------


def listener(
    protocol: str = "HTTP",
    hostname: str | None = None,
    name: str = "l",
    port: int = 80,
    origin: str | None = None,
    selector: Any = None,
    kinds: list[Obj] | None = None,
) -> Obj:
    found: Obj = {"name": name, "protocol": protocol, "port": port}
    if hostname is not None:
        found["hostname"] = hostname
    allowed: Obj = {}
    if origin is not None:
        allowed["namespaces"] = {"from": origin}
        if selector is not None:
            allowed["namespaces"]["selector"] = selector
    if kinds is not None:
        allowed["kinds"] = kinds
    if allowed:
        found["allowedRoutes"] = allowed
    return found


def gateway(
    name: str = "gw",
    namespace: str = "default",
    listeners: Sequence[Obj] | None = None,
    addresses: Sequence[str] = ("192.0.2.10",),
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    **spec: Any,
) -> Obj:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Gateway",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "annotations": annotations or {},
            "labels": labels or {},
        },
        "spec": {"gatewayClassName": "c", "listeners": list(listeners or [listener()]), **spec},
        "status": {"addresses": [{"type": _address_type(a), "value": a} for a in addresses]},
    }


def _address_type(value: str) -> str:
    return "IPAddress" if value[0].isdigit() or ":" in value else "Hostname"


def ref(namespace: str | None = "default", name: str = "gw", **extra: Any) -> Obj:
    found: Obj = {"group": GROUP, "kind": "Gateway", "name": name, **extra}
    if namespace is not None:
        found["namespace"] = namespace
    return found


def accepted(parent: Obj, status: str = "True", controller: str = "example.net/gateway") -> Obj:
    return {
        "parentRef": parent,
        "controllerName": controller,
        "conditions": [{"type": "Accepted", "status": status}],
    }


def route(
    kind: str = "HTTPRoute",
    name: str = "rt",
    namespace: str = "default",
    hostnames: Sequence[str] = ("web.example.org",),
    parents: Sequence[Any] | None = None,
    status: Sequence[Obj] | None = None,
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> Obj:
    refs = list(parents) if parents is not None else [ref()]
    spec: Obj = {"parentRefs": refs}
    if hostnames and kind in ("HTTPRoute", "GRPCRoute", "TLSRoute"):
        spec["hostnames"] = list(hostnames)
    version = "v1alpha2" if kind in ("TCPRoute", "UDPRoute") else "v1"
    return {
        "apiVersion": f"{GROUP}/{version}",
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "annotations": annotations or {},
            "labels": labels or {},
        },
        "spec": spec,
        "status": {"parents": list(status) if status is not None else [accepted(r) for r in refs]},
    }


def namespace(name: str, **labels: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def run(rt: Obj, objects: Sequence[Obj], cfg: SourceConfig | None = None) -> tuple[list[Endpoint], list[str]]:
    cluster = Cluster.from_objects([*objects, namespace("default")])
    result = endpoints_for_object(rt["kind"], rt, cluster, cfg or SourceConfig())
    return result.endpoints, [r.reason for r in result.rejections]


def records(rt: Obj, objects: Sequence[Obj], cfg: SourceConfig | None = None) -> Records:
    endpoints, rejections = run(rt, objects, cfg)
    assert rejections == []
    return {(e.dns_name, e.record_type, e.targets) for e in endpoints}


def a(name: str, *targets: str) -> tuple[str, str, tuple[str, ...]]:
    return (name, "A", tuple(sorted(targets)))


# --- the HTTPRoute table ------------------------------------------------------------------------------------

TWO = [ref(name="one"), ref(name="two")]
ALL_NS = listener(origin="All")
TEMPLATE = ("{{.Name}}.tmpl.example.org",)

CASES: list[tuple[str, Obj, list[Obj], SourceConfig, Records]] = [
    (
        "--gateway-name picks one of two accepting Gateways",
        route(parents=TWO),
        [gateway("one", addresses=["192.0.2.1"]), gateway("two", addresses=["192.0.2.2"])],
        SourceConfig(gateway_name="one"),
        {a("web.example.org", "192.0.2.1")},
    ),
    (
        "--gateway-namespace hides Gateways elsewhere",
        route(namespace="apps", parents=[ref("infra", "gw"), ref("other", "gw")]),
        [
            gateway(namespace="infra", listeners=[ALL_NS], addresses=["192.0.2.1"]),
            gateway(namespace="other", listeners=[ALL_NS], addresses=["192.0.2.2"]),
        ],
        SourceConfig(gateway_namespace="infra"),
        {a("web.example.org", "192.0.2.1")},
    ),
    (
        "--gateway-label-filter hides Gateways without the labels",
        route(parents=TWO),
        [
            gateway("one", addresses=["192.0.2.1"], labels={"team": "web"}),
            gateway("two", addresses=["192.0.2.2"], labels={"team": "db"}),
        ],
        SourceConfig(gateway_label_filter="team=web"),
        {a("web.example.org", "192.0.2.1")},
    ),
    (
        "--gateway-label-filter with set syntax",
        route(parents=TWO),
        [
            gateway("one", addresses=["192.0.2.1"], labels={"team": "web"}),
            gateway("two", addresses=["192.0.2.2"]),
        ],
        SourceConfig(gateway_label_filter="team in (web,api)"),
        {a("web.example.org", "192.0.2.1")},
    ),
    (
        "--namespace selects routes, not Gateways",
        route(namespace="apps", parents=[ref("infra")]),
        [gateway(namespace="infra", listeners=[ALL_NS])],
        SourceConfig(namespace="apps"),
        {a("web.example.org", "192.0.2.10")},
    ),
    (
        "--namespace excludes a route elsewhere",
        route(namespace="apps", parents=[ref("infra")]),
        [gateway(namespace="infra", listeners=[ALL_NS])],
        SourceConfig(namespace="other"),
        set(),
    ),
    (
        "--label-filter on the route",
        route(labels={"dns": "yes"}),
        [gateway()],
        SourceConfig(label_filter="dns=yes"),
        {a("web.example.org", "192.0.2.10")},
    ),
    (
        "--label-filter excludes the route",
        route(labels={"dns": "no"}),
        [gateway()],
        SourceConfig(label_filter="dns=yes"),
        set(),
    ),
    (
        "--annotation-filter on the route",
        route(annotations={"dns": "yes"}),
        [gateway()],
        SourceConfig(annotation_filter="dns in (yes)"),
        {a("web.example.org", "192.0.2.10")},
    ),
    (
        "--annotation-filter excludes the route",
        route(annotations={"dns": "no"}),
        [gateway()],
        SourceConfig(annotation_filter="dns=yes"),
        set(),
    ),
    (
        "a controller annotation naming someone else",
        route(annotations={A + "controller": "other"}),
        [gateway()],
        SourceConfig(),
        set(),
    ),
    (
        "a controller annotation naming us",
        route(annotations={A + "controller": "dns-controller"}),
        [gateway()],
        SourceConfig(),
        {a("web.example.org", "192.0.2.10")},
    ),
    (
        "two Gateways: one endpoint holding both addresses",
        route(parents=TWO),
        [gateway("one", addresses=["192.0.2.1"]), gateway("two", addresses=["192.0.2.2"])],
        SourceConfig(),
        {a("web.example.org", "192.0.2.1", "192.0.2.2")},
    ),
    (
        "two listeners with hostnames under the route's wildcard",
        route(hostnames=["*.example.org"]),
        [
            gateway(
                listeners=[
                    listener(hostname="foo.example.org", name="foo"),
                    listener(hostname="bar.example.org", name="bar"),
                ]
            )
        ],
        SourceConfig(),
        {a("foo.example.org", "192.0.2.10"), a("bar.example.org", "192.0.2.10")},
    ),
    (
        "sectionName picks one listener",
        route(hostnames=["*.example.org"], parents=[ref(sectionName="foo")]),
        [
            gateway(
                listeners=[
                    listener(hostname="foo.example.org", name="foo"),
                    listener(hostname="bar.example.org", name="bar"),
                ]
            )
        ],
        SourceConfig(),
        {a("foo.example.org", "192.0.2.10")},
    ),
    (
        "sectionName naming no listener",
        route(parents=[ref(sectionName="nope")]),
        [gateway(listeners=[listener(name="foo")])],
        SourceConfig(),
        set(),
    ),
    (
        "port picks the listeners on that port",
        route(hostnames=["*.example.org"], parents=[ref(port=80)]),
        [
            gateway(
                listeners=[
                    listener(hostname="foo.example.org", name="foo", port=80),
                    listener(hostname="bar.example.org", name="bar", port=80),
                    listener(hostname="qux.example.org", name="qux", port=8080),
                ]
            )
        ],
        SourceConfig(),
        {a("foo.example.org", "192.0.2.10"), a("bar.example.org", "192.0.2.10")},
    ),
    (
        "sectionName and port both narrow",
        route(hostnames=["*.example.org"], parents=[ref(sectionName="qux", port=80)]),
        [gateway(listeners=[listener(hostname="qux.example.org", name="qux", port=8080)])],
        SourceConfig(),
        set(),
    ),
    (
        "the status parentRef's sectionName counts, the spec's is only matched by name",
        route(
            hostnames=["*.example.org"],
            parents=[ref(sectionName="foo")],
            status=[accepted(ref(sectionName="bar"))],
        ),
        [
            gateway(
                listeners=[
                    listener(hostname="foo.example.org", name="foo"),
                    listener(hostname="bar.example.org", name="bar"),
                ]
            )
        ],
        SourceConfig(),
        {a("bar.example.org", "192.0.2.10")},
    ),
    (
        "wildcard listener, specific route",
        route(hostnames=["foo.example.org"]),
        [gateway(listeners=[listener(hostname="*.example.org")])],
        SourceConfig(),
        {a("foo.example.org", "192.0.2.10")},
    ),
    (
        "specific listener, wildcard route",
        route(hostnames=["*.example.org"]),
        [gateway(listeners=[listener(hostname="foo.example.org")])],
        SourceConfig(),
        {a("foo.example.org", "192.0.2.10")},
    ),
    (
        "wildcard on both sides",
        route(hostnames=["*.example.org"]),
        [gateway(listeners=[listener(hostname="*.example.org")])],
        SourceConfig(),
        {a("*.example.org", "192.0.2.10")},
    ),
    (
        "a wildcard does not match its parent domain",
        route(hostnames=["example.org"]),
        [gateway(listeners=[listener(hostname="*.example.org")])],
        SourceConfig(),
        set(),
    ),
    (
        "a wildcard matches several labels deep",
        route(hostnames=["a.b.c.example.org"]),
        [gateway(listeners=[listener(hostname="*.example.org")])],
        SourceConfig(),
        {a("a.b.c.example.org", "192.0.2.10")},
    ),
    (
        "hostnames that do not intersect",
        route(hostnames=["web.example.net"]),
        [gateway(listeners=[listener(hostname="*.example.org")])],
        SourceConfig(),
        set(),
    ),
    (
        "no route hostname takes the listener's",
        route(hostnames=[]),
        [gateway(listeners=[listener(hostname="foo.example.org")])],
        SourceConfig(),
        {a("foo.example.org", "192.0.2.10")},
    ),
    (
        "no hostname anywhere",
        route(hostnames=[]),
        [gateway()],
        SourceConfig(),
        set(),
    ),
    (
        "no parentRefs: the status alone does not count",
        route(parents=[], status=[accepted(ref())]),
        [gateway()],
        SourceConfig(),
        set(),
    ),
    (
        "no Gateway at all",
        route(),
        [],
        SourceConfig(),
        set(),
    ),
    (
        "a status parent the spec does not name",
        route(parents=[ref(name="gw")], status=[accepted(ref(name="other"))]),
        [gateway(), gateway("other")],
        SourceConfig(),
        set(),
    ),
    (
        "not accepted",
        route(status=[accepted(ref(), status="False")]),
        [gateway()],
        SourceConfig(),
        set(),
    ),
    (
        "no Accepted condition",
        route(status=[{"parentRef": ref(), "conditions": [{"type": "ResolvedRefs", "status": "True"}]}]),
        [gateway()],
        SourceConfig(),
        set(),
    ),
    (
        "only the first Accepted condition counts",
        route(
            status=[
                {
                    "parentRef": ref(),
                    "conditions": [
                        {"type": "Accepted", "status": "False"},
                        {"type": "Accepted", "status": "True"},
                    ],
                }
            ]
        ),
        [gateway()],
        SourceConfig(),
        set(),
    ),
    (
        "accepted by one of two Gateways",
        route(parents=TWO, status=[accepted(ref(name="one"), "False"), accepted(ref(name="two"))]),
        [gateway("one", addresses=["192.0.2.1"]), gateway("two", addresses=["192.0.2.2"])],
        SourceConfig(),
        {a("web.example.org", "192.0.2.2")},
    ),
    (
        "the status parentRef's namespace defaults to the route's",
        route(namespace="apps", parents=[ref(None)], status=[accepted(ref(None))]),
        [gateway(namespace="apps")],
        SourceConfig(),
        {a("web.example.org", "192.0.2.10")},
    ),
    (
        "spec without namespace matches a status with the route's namespace",
        route(namespace="apps", parents=[ref(None)], status=[accepted(ref("apps"))]),
        [gateway(namespace="apps")],
        SourceConfig(),
        {a("web.example.org", "192.0.2.10")},
    ),
    (
        "group and kind default to Gateway",
        route(parents=[{"name": "gw"}], status=[accepted({"name": "gw"})]),
        [gateway()],
        SourceConfig(),
        {a("web.example.org", "192.0.2.10")},
    ),
    (
        "a parent of another kind is ignored",
        route(parents=[{"kind": "Service", "group": "", "name": "gw"}]),
        [gateway()],
        SourceConfig(),
        set(),
    ),
    (
        "a parent of another group is ignored",
        route(parents=[{"group": "example.com", "kind": "Gateway", "name": "gw"}]),
        [gateway()],
        SourceConfig(),
        set(),
    ),
    (
        "the controllerName of a status parent does not matter",
        route(status=[accepted(ref(), controller="")]),
        [gateway()],
        SourceConfig(),
        {a("web.example.org", "192.0.2.10")},
    ),
    (
        "one accepting Gateway listed twice in the status",
        route(status=[accepted(ref(), controller="a/x"), accepted(ref(), controller="b/y")]),
        [gateway()],
        SourceConfig(),
        {a("web.example.org", "192.0.2.10")},
    ),
    (
        "hostname annotation with and without spec hostnames",
        route(annotations={A + "hostname": "extra.example.org"}),
        [gateway()],
        SourceConfig(),
        {a("web.example.org", "192.0.2.10"), a("extra.example.org", "192.0.2.10")},
    ),
    (
        "hostname annotation, no spec hostnames, legacy prefix",
        route(hostnames=[], annotations={ALPHA + "hostname": "x.example.org, y.example.org."}),
        [gateway()],
        SourceConfig(),
        {a("x.example.org", "192.0.2.10"), a("y.example.org", "192.0.2.10")},
    ),
    (
        "annotation hostnames are narrowed by the listener hostname too (which also counts itself)",
        route(hostnames=[], annotations={A + "hostname": "x.example.org,y.example.net"}),
        [gateway(listeners=[listener(hostname="*.example.org")])],
        SourceConfig(),
        {a("x.example.org", "192.0.2.10"), a("*.example.org", "192.0.2.10")},
    ),
    (
        "--ignore-hostname-annotation",
        route(annotations={A + "hostname": "extra.example.org"}),
        [gateway()],
        SourceConfig(ignore_hostname_annotation=True, fqdn_templates=TEMPLATE),
        {a("web.example.org", "192.0.2.10")},
    ),
    (
        "--fqdn-template when the spec has no hostnames",
        route(name="shop", hostnames=[]),
        [gateway()],
        SourceConfig(fqdn_templates=("{{.Name}}.a.example.org, {{.Name}}.b.example.org. ",)),
        {a("shop.a.example.org", "192.0.2.10"), a("shop.b.example.org", "192.0.2.10")},
    ),
    (
        "--fqdn-template is not used when the spec has hostnames",
        route(name="shop"),
        [gateway()],
        SourceConfig(fqdn_templates=TEMPLATE),
        {a("web.example.org", "192.0.2.10")},
    ),
    (
        "--fqdn-template and the hostname annotation both count",
        route(name="shop", hostnames=[], annotations={A + "hostname": "extra.example.org"}),
        [gateway()],
        SourceConfig(fqdn_templates=TEMPLATE),
        {a("shop.tmpl.example.org", "192.0.2.10"), a("extra.example.org", "192.0.2.10")},
    ),
    (
        "--combine-fqdn-annotation adds the template names",
        route(name="shop"),
        [gateway()],
        SourceConfig(fqdn_templates=TEMPLATE, combine_fqdn_annotation=True),
        {a("web.example.org", "192.0.2.10"), a("shop.tmpl.example.org", "192.0.2.10")},
    ),
    (
        "--fqdn-template with the Kind",
        route(name="shop", hostnames=[]),
        [gateway()],
        SourceConfig(fqdn_templates=("{{.Name}}.{{.Kind | toLower}}.example.org",)),
        {a("shop.httproute.example.org", "192.0.2.10")},
    ),
    (
        "different hostnames on different Gateways",
        route(hostnames=["t.one.example.org", "t.two.example.org"], parents=TWO),
        [
            gateway("one", listeners=[listener(hostname="*.one.example.org")], addresses=["192.0.2.1"]),
            gateway("two", listeners=[listener(hostname="*.two.example.org")], addresses=["192.0.2.2"]),
        ],
        SourceConfig(),
        {a("t.one.example.org", "192.0.2.1"), a("t.two.example.org", "192.0.2.2")},
    ),
    (
        "allowedRoutes defaults to Same: a route in another namespace is refused",
        route(namespace="apps", parents=[ref("infra")]),
        [gateway(namespace="infra")],
        SourceConfig(),
        set(),
    ),
    (
        "allowedRoutes Same explicitly",
        route(namespace="infra", parents=[ref("infra")]),
        [gateway(namespace="infra", listeners=[listener(origin="Same")])],
        SourceConfig(),
        {a("web.example.org", "192.0.2.10")},
    ),
    (
        "allowedRoutes All lets a cross-namespace route attach",
        route(namespace="apps", parents=[ref("infra")]),
        [gateway(namespace="infra", listeners=[ALL_NS])],
        SourceConfig(),
        {a("web.example.org", "192.0.2.10")},
    ),
    (
        "allowedRoutes Selector: the route's Namespace has the labels",
        route(namespace="team-a", parents=[ref("infra")]),
        [
            namespace("team-a", team="a"),
            gateway(
                namespace="infra",
                listeners=[listener(origin="Selector", selector={"matchLabels": {"team": "a"}})],
            ),
        ],
        SourceConfig(),
        {a("web.example.org", "192.0.2.10")},
    ),
    (
        "allowedRoutes Selector: the route's Namespace lacks the labels",
        route(namespace="team-b", parents=[ref("infra")]),
        [
            namespace("team-b", team="b"),
            gateway(
                namespace="infra",
                listeners=[listener(origin="Selector", selector={"matchLabels": {"team": "a"}})],
            ),
        ],
        SourceConfig(),
        set(),
    ),
    (
        "allowedRoutes Selector with matchExpressions",
        route(namespace="team-b", parents=[ref("infra")]),
        [
            namespace("team-b", team="b"),
            gateway(
                namespace="infra",
                listeners=[
                    listener(
                        origin="Selector",
                        selector={
                            "matchExpressions": [{"key": "team", "operator": "In", "values": ["a", "b"]}]
                        },
                    )
                ],
            ),
        ],
        SourceConfig(),
        {a("web.example.org", "192.0.2.10")},
    ),
    (
        "allowedRoutes Selector {} admits every namespace that exists",
        route(namespace="team-b", parents=[ref("infra")]),
        [
            namespace("team-b"),
            gateway(namespace="infra", listeners=[listener(origin="Selector", selector={})]),
        ],
        SourceConfig(),
        {a("web.example.org", "192.0.2.10")},
    ),
    (
        "allowedRoutes Selector without a selector admits nothing",
        route(namespace="team-b", parents=[ref("infra")]),
        [namespace("team-b"), gateway(namespace="infra", listeners=[listener(origin="Selector")])],
        SourceConfig(),
        set(),
    ),
    (
        "allowedRoutes Selector and the route's Namespace object is missing",
        route(namespace="ghost", parents=[ref("infra")]),
        [gateway(namespace="infra", listeners=[listener(origin="Selector", selector={})])],
        SourceConfig(),
        set(),
    ),
    (
        "allowedRoutes with an unknown from",
        route(),
        [gateway(listeners=[listener(origin="Elsewhere")])],
        SourceConfig(),
        set(),
    ),
    (
        "allowedRoutes kinds naming the route's kind (group defaulted)",
        route(),
        [gateway(listeners=[listener(kinds=[{"kind": "GRPCRoute"}, {"kind": "HTTPRoute"}])])],
        SourceConfig(),
        {a("web.example.org", "192.0.2.10")},
    ),
    (
        "allowedRoutes kinds not naming the route's kind",
        route(),
        [gateway(listeners=[listener(kinds=[{"group": GROUP, "kind": "GRPCRoute"}])])],
        SourceConfig(),
        set(),
    ),
    (
        "allowedRoutes kinds with another group",
        route(),
        [gateway(listeners=[listener(kinds=[{"group": "example.com", "kind": "HTTPRoute"}])])],
        SourceConfig(),
        set(),
    ),
    (
        "the Gateway's target annotation replaces its addresses",
        route(namespace="apps", parents=[ref("infra")]),
        [gateway(namespace="infra", listeners=[ALL_NS], annotations={A + "target": "198.51.100.1"})],
        SourceConfig(),
        {a("web.example.org", "198.51.100.1")},
    ),
    (
        "one Gateway of two with a target annotation",
        route(parents=TWO),
        [
            gateway("one", annotations={ALPHA + "target": "198.51.100.1"}),
            gateway("two", addresses=["192.0.2.2"]),
        ],
        SourceConfig(),
        {a("web.example.org", "198.51.100.1", "192.0.2.2")},
    ),
    (
        "a target annotation on the route does nothing",
        route(annotations={A + "target": "198.51.100.1"}),
        [gateway()],
        SourceConfig(),
        {a("web.example.org", "192.0.2.10")},
    ),
    (
        "Gateway addresses of both families and a hostname",
        route(),
        [gateway(addresses=["192.0.2.1", "2001:db8::1", "lb.example.net"])],
        SourceConfig(),
        {
            a("web.example.org", "192.0.2.1"),
            ("web.example.org", "AAAA", ("2001:db8::1",)),
            ("web.example.org", "CNAME", ("lb.example.net",)),
        },
    ),
    (
        "a Gateway without addresses",
        route(),
        [gateway(addresses=[])],
        SourceConfig(),
        set(),
    ),
    (
        "gateway-hostname-source defined-hosts-only ignores the annotation",
        route(
            annotations={A + "gateway-hostname-source": "defined-hosts-only", A + "hostname": "x.example.org"}
        ),
        [gateway()],
        SourceConfig(),
        {a("web.example.org", "192.0.2.10")},
    ),
    (
        "gateway-hostname-source defined-hosts-only, no spec hostnames: no listener fallback",
        route(hostnames=[], annotations={A + "gateway-hostname-source": "defined-hosts-only"}),
        [gateway(listeners=[listener(hostname="l.example.org")])],
        SourceConfig(),
        set(),
    ),
    (
        "gateway-hostname-source annotation-only ignores the spec",
        route(
            annotations={A + "gateway-hostname-source": "Annotation-Only", A + "hostname": "x.example.org"}
        ),
        [gateway()],
        SourceConfig(),
        {a("x.example.org", "192.0.2.10")},
    ),
    (
        "gateway-hostname-source annotation-only with --ignore-hostname-annotation",
        route(
            annotations={A + "gateway-hostname-source": "annotation-only", A + "hostname": "x.example.org"}
        ),
        [gateway()],
        SourceConfig(ignore_hostname_annotation=True, fqdn_templates=TEMPLATE),
        set(),
    ),
    (
        "hostnames are lower-cased",
        route(hostnames=["Web.Example.ORG"]),
        [gateway(listeners=[listener(hostname="*.EXAMPLE.org")])],
        SourceConfig(),
        {a("web.example.org", "192.0.2.10")},
    ),
    (
        "a listener hostname that is no domain matches nothing",
        route(),
        [gateway(listeners=[listener(hostname="192.0.2.1")])],
        SourceConfig(),
        set(),
    ),
]


@pytest.mark.parametrize(
    ("rt", "objects", "cfg", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_httproute(rt: Obj, objects: list[Obj], cfg: SourceConfig, expected: Records) -> None:
    assert records(rt, objects, cfg) == expected


# --- per kind: protocols, hostnames, resource labels ---------------------------------------------------------

PROTOCOLS = ("HTTP", "HTTPS", "TLS", "TCP", "UDP")
ATTACHES = {
    "HTTPRoute": {"HTTP", "HTTPS"},
    "GRPCRoute": {"HTTP", "HTTPS"},
    "TLSRoute": {"TLS"},
    "TCPRoute": {"TCP", "TLS"},
    "UDPRoute": {"UDP"},
}


@pytest.mark.parametrize("kind", ROUTE_KINDS)
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_each_route_kind_attaches_to_its_listener_protocols(kind: str, protocol: str) -> None:
    rt = route(kind, hostnames=[], annotations={A + "hostname": "svc.example.org"})
    found = records(rt, [gateway(listeners=[listener(protocol)])])
    assert found == ({a("svc.example.org", "192.0.2.10")} if protocol in ATTACHES[kind] else set())


@pytest.mark.parametrize("kind", ROUTE_KINDS)
def test_resource_label_and_source_names(kind: str) -> None:
    rt = route(kind, name="api", namespace="apps", parents=[ref("apps")])
    rt["metadata"]["annotations"] = {A + "hostname": "api.example.org"}
    protocol = {"GRPCRoute": "HTTPS", "TLSRoute": "TLS", "TCPRoute": "TCP", "UDPRoute": "UDP"}.get(
        kind, "HTTP"
    )
    endpoints, _ = run(rt, [gateway(namespace="apps", listeners=[listener(protocol)])])
    assert {e.resource for e in endpoints} == {f"{kind.lower()}/apps/api"}
    assert KIND_OF_SOURCE[f"gateway-{kind.lower()}"] == kind
    assert f"gateway-{kind.lower()}" in SOURCES


@pytest.mark.parametrize("kind", ["TCPRoute", "UDPRoute"])
def test_tcp_and_udp_routes_have_no_spec_hostnames(kind: str) -> None:
    rt = route(kind, annotations={A + "hostname": "svc.example.org"})
    rt["spec"]["hostnames"] = ["ignored.example.org"]
    protocol = kind.removesuffix("Route")
    found = records(
        rt, [gateway(listeners=[listener(protocol, hostname="gw.example.org"), listener(protocol)])]
    )
    # no spec hostnames: the listener's own hostname, and the annotation where the listener has none
    assert found == {a("gw.example.org", "192.0.2.10"), a("svc.example.org", "192.0.2.10")}


def test_tcproute_with_combined_template() -> None:
    rt = route("TCPRoute", name="db", annotations={A + "hostname": "db-a.example.org"})
    cfg = SourceConfig(fqdn_templates=("{{.Name}}-t.example.org",), combine_fqdn_annotation=True)
    found = records(rt, [gateway(listeners=[listener("TCP")], addresses=["10.0.0.1", "10.0.0.2"])], cfg)
    assert found == {
        a("db-a.example.org", "10.0.0.1", "10.0.0.2"),
        a("db-t.example.org", "10.0.0.1", "10.0.0.2"),
    }


def test_tlsroute_hostnames_annotation_and_template() -> None:
    rt = route(
        "TLSRoute",
        name="api",
        hostnames=["api-h.example.org"],
        annotations={A + "hostname": "api-a.example.org"},
    )
    cfg = SourceConfig(fqdn_templates=("{{.Name}}-t.example.org",), combine_fqdn_annotation=True)
    found = records(rt, [gateway(listeners=[listener("TLS")])], cfg)
    assert {name for name, _, _ in found} == {"api-h.example.org", "api-a.example.org", "api-t.example.org"}


# --- annotations -------------------------------------------------------------------------------------------


def test_ttl_set_identifier_and_provider_specific_annotations() -> None:
    rt = route(
        annotations={
            A + "ttl": "1m",
            A + "set-identifier": "blue",
            A + "coredns-group": "g1",
            A + "aws-weight": "10",
            A + "alias": "true",
        }
    )
    (endpoint,) = run(rt, [gateway()], SourceConfig(min_ttl=30))[0]
    assert (endpoint.ttl, endpoint.set_identifier) == (60, "blue")
    assert dict(endpoint.provider_specific) == {"coredns/group": "g1"}


def test_min_ttl_applies_when_no_ttl_annotation() -> None:
    (endpoint,) = run(route(), [gateway()], SourceConfig(min_ttl=30))[0]
    assert endpoint.ttl == 30


def test_an_unusable_ttl_is_rejected_and_the_records_kept() -> None:
    endpoints, rejections = run(route(annotations={A + "ttl": "abc"}), [gateway()])
    assert [(e.dns_name, e.ttl) for e in endpoints] == [("web.example.org", 0)]
    assert len(rejections) == 1 and "ttl" in rejections[0]


def test_an_invalid_gateway_hostname_source_falls_back_to_the_default() -> None:
    rt = route(annotations={A + "gateway-hostname-source": "bogus", A + "hostname": "x.example.org"})
    endpoints, rejections = run(rt, [gateway()])
    assert {e.dns_name for e in endpoints} == {"web.example.org", "x.example.org"}
    assert len(rejections) == 1 and "gateway-hostname-source" in rejections[0] and "bogus" in rejections[0]


def test_an_invalid_annotation_hostname_is_rejected_and_the_others_kept() -> None:
    rt = route(annotations={A + "hostname": "bad_name.example.org,192.0.2.1,ok.example.org"})
    endpoints, rejections = run(rt, [gateway()])
    assert {e.dns_name for e in endpoints} == {"web.example.org", "ok.example.org"}
    assert len(rejections) == 2 and all("invalid hostname" in r for r in rejections)


# --- helpers: host matching, protocols, DNS-1123 -------------------------------------------------------------


@pytest.mark.parametrize(
    ("one", "other", "expected"),
    [
        ("192.0.2.1", "", None),
        ("2001:db8::7334", "", None),
        ("", "", ""),
        ("example.net", "", "example.net"),
        ("example.net", "example.net", "example.net"),
        ("*.example.net", "test.example.net", "test.example.net"),
        ("*.example.net", "a.example.net", "a.example.net"),
        ("*.example.net", "foo.bar.test.example.net", "foo.bar.test.example.net"),
        ("*.example.net", "example.net", None),
        ("*example.net", "test.example.net", None),
        ("*.example.net", "*.example.net", "*.example.net"),
        ("*.example.net", "*.sub.example.net", "*.sub.example.net"),
        ("a.example.net", "b.example.net", None),
        ("EXAMPLE.net", "example.NET", "example.net"),
    ],
)
def test_matching_host_is_symmetric(one: str, other: str, expected: str | None) -> None:
    assert matching_host(one, other) == expected
    assert matching_host(other, one) == expected


@pytest.mark.parametrize(
    ("route_protocol", "listener_protocol", "expected"),
    [
        ("HTTP", "HTTPS", True),
        ("HTTPS", "HTTP", True),
        ("HTTP", "HTTP", True),
        ("TCP", "HTTPS", False),
        ("TLS", "TLS", True),
        ("TCP", "TLS", True),
        ("TLS", "TCP", False),
        ("UDP", "TCP", False),
        ("UDP", "UDP", True),
    ],
)
def test_protocol_matches(route_protocol: str, listener_protocol: str, expected: bool) -> None:
    assert protocol_matches(route_protocol, listener_protocol) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", False),
        ("x" * 64 + ".example.net", False),
        ("testing." * 32 + "example.net", False),
        ("example", True),
        ("example.net", True),
        ("test.example.net", True),
        ("test-with-dash.example.net", True),
        ("-dash-prefix.example.net", False),
        ("dash-suffix-.example.net", False),
        ("under_score.example.net", False),
        ("pl+us.example.net", False),
        ("bra[k]ets.example.net", False),
        ("*.example.net", False),
        ("example.net.", True),
        ("example..net", False),
        (".", False),
        ("exämple.net", False),
    ],
)
def test_is_dns1123_domain(text: str, expected: bool) -> None:
    assert is_dns1123_domain(text) is expected


# --- route_gateways, collect, robustness ----------------------------------------------------------------------


def test_route_gateways_lists_gateway_parents_with_defaults() -> None:
    rt = route(
        namespace="apps",
        parents=[
            {"name": "a"},
            {"name": "b", "namespace": "infra", "sectionName": "http"},
            {"name": "b", "namespace": "infra", "sectionName": "https"},
            {"group": GROUP, "kind": "ListenerSet", "name": "ls"},
            {"group": "", "kind": "Service", "name": "svc"},
            {"group": GROUP, "kind": "Gateway", "name": ""},
            "garbage",
        ],
    )
    assert route_gateways(rt) == [("apps", "a"), ("infra", "b")]
    assert route_listener_sets(rt) == [("apps", "ls")]
    assert listener_set_gateway(listener_set()) == ("infra", "gw")
    assert listener_set_gateway({"metadata": {"namespace": "t"}, "spec": {"parentRef": {"name": "g"}}}) == (
        "t",
        "g",
    )
    assert route_gateways({"kind": "HTTPRoute"}) == []


def test_collect_merges_routes_of_one_source_and_runs_sources_separately() -> None:
    objects = [
        gateway(addresses=["192.0.2.1"]),
        route(name="r1"),
        route(name="r2", hostnames=["other.example.org"]),
        route("GRPCRoute", name="g1", hostnames=["grpc.example.org"]),
        namespace("default"),
    ]
    cluster = Cluster.from_objects(objects)
    endpoints, rejections = endpoints_for(cluster, SourceConfig(), ["gateway-httproute"])
    assert rejections == []
    assert sorted((e.dns_name, e.resource) for e in endpoints) == [
        ("other.example.org", "httproute/default/r2"),
        ("web.example.org", "httproute/default/r1"),
    ]
    found = collect(cluster, SourceConfig(), ["gateway-httproute", "gateway-grpcroute"])
    assert {e.resource for e in found.endpoints} == {
        "httproute/default/r1",
        "httproute/default/r2",
        "grpcroute/default/g1",
    }
    assert len(found.claims) == 3


def test_the_zone_guard_refuses_names_outside_the_domain_filter_and_keeps_others() -> None:
    guard = ZoneGuard(DomainFilter(domains=("example.org",)))
    rt = route(hostnames=["web.example.org", "x.dns.example.org"])
    result = endpoints_for_object(
        "gateway-httproute", rt, Cluster.from_objects([gateway()]), SourceConfig(zone_guard=guard)
    )
    assert [e.dns_name for e in result.endpoints] == ["web.example.org"]
    assert [r.rule for r in result.rejections] == ["reserved"]


@pytest.mark.parametrize(
    "rt",
    [
        {"kind": "HTTPRoute", "metadata": {"name": "x", "namespace": "d"}, "spec": [], "status": 5},
        {
            "kind": "HTTPRoute",
            "metadata": {"name": "x"},
            "spec": {"parentRefs": "gw", "hostnames": [1, None]},
        },
        {
            "kind": "HTTPRoute",
            "metadata": {"name": "x", "namespace": "default", "annotations": {A + "hostname": 7}},
            "spec": {"parentRefs": [{"name": "gw"}], "hostnames": ["a.example.org"]},
            "status": {"parents": [None, {"parentRef": "gw"}, {"parentRef": {"name": "gw", "port": "80"}}]},
        },
    ],
)
def test_malformed_routes_give_nothing_and_never_raise(rt: Obj) -> None:
    broken_gateway = gateway(listeners=[])
    broken_gateway["spec"]["listeners"] = ["garbage", {"protocol": 5, "allowedRoutes": "x", "hostname": 3}]
    result = endpoints_for_object("HTTPRoute", rt, Cluster.from_objects([broken_gateway]), SourceConfig())
    assert result.endpoints == []


def test_a_route_without_a_name_is_rejected() -> None:
    rt = route()
    del rt["metadata"]["name"]
    result = endpoints_for_object("HTTPRoute", rt, Cluster.from_objects([gateway()]), SourceConfig())
    assert result.endpoints == [] and "no metadata.name" in result.rejections[0].reason


def test_a_gateway_of_another_api_group_is_not_a_gateway() -> None:
    istio = {**gateway(), "apiVersion": "networking.istio.io/v1"}
    assert records(route(), [istio]) == set()


# --- ListenerSets (--gateway-listener-sets) ------------------------------------------------------------------

LS_REF = {"group": GROUP, "kind": "ListenerSet", "name": "ls", "namespace": "team"}


def listener_set(
    accepted_set: str = "True",
    accepted_listeners: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    listeners: list[Obj] | None = None,
) -> Obj:
    entries = listeners or [listener(hostname="*.team.example.org", name="web")]
    statuses = accepted_listeners if accepted_listeners is not None else {e["name"]: "True" for e in entries}
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "ListenerSet",
        "metadata": {"name": "ls", "namespace": "team", "annotations": annotations or {}},
        "spec": {"parentRef": {"name": "gw", "namespace": "infra"}, "listeners": entries},
        "status": {
            "conditions": [{"type": "Accepted", "status": accepted_set}],
            "listeners": [
                {"name": name, "conditions": [{"type": "Accepted", "status": status}]}
                for name, status in statuses.items()
            ],
        },
    }


def ls_gateway(origin: str | None = "All", **kw: Any) -> Obj:
    extra: dict[str, Any] = {"allowedListeners": {"namespaces": {"from": origin}}} if origin else {}
    return gateway(namespace="infra", listeners=[listener(hostname="gw.example.org")], **extra, **kw)


LS_ROUTE = route(namespace="team", hostnames=["app.team.example.org"], parents=[LS_REF])
ON = SourceConfig(gateway_listener_sets=True)
LS_CASES: list[tuple[str, list[Obj], SourceConfig, Records]] = [
    ("attached", [ls_gateway(), listener_set()], ON, {a("app.team.example.org", "192.0.2.10")}),
    ("the flag off", [ls_gateway(), listener_set()], SourceConfig(), set()),
    ("Gateway allows no ListenerSets by default", [ls_gateway(None), listener_set()], ON, set()),
    ("Gateway allows Same only", [ls_gateway("Same"), listener_set()], ON, set()),
    (
        "Gateway allows by namespace selector",
        [
            namespace("team", tier="apps"),
            gateway(
                namespace="infra",
                allowedListeners={
                    "namespaces": {"from": "Selector", "selector": {"matchLabels": {"tier": "apps"}}}
                },
            ),
            listener_set(),
        ],
        ON,
        {a("app.team.example.org", "192.0.2.10")},
    ),
    ("ListenerSet not accepted", [ls_gateway(), listener_set("False")], ON, set()),
    (
        "its listener not accepted",
        [ls_gateway(), listener_set(accepted_listeners={"web": "False"})],
        ON,
        set(),
    ),
    ("its listener without status", [ls_gateway(), listener_set(accepted_listeners={})], ON, set()),
    ("parent Gateway missing", [listener_set()], ON, set()),
    (
        "parent Gateway hidden by --gateway-namespace",
        [ls_gateway(), listener_set()],
        SourceConfig(gateway_listener_sets=True, gateway_namespace="elsewhere"),
        set(),
    ),
    (
        "--gateway-name compares the parent Gateway's name",
        [ls_gateway(), listener_set()],
        SourceConfig(gateway_listener_sets=True, gateway_name="gw"),
        {a("app.team.example.org", "192.0.2.10")},
    ),
    (
        "the ListenerSet's target annotation wins",
        [
            ls_gateway(annotations={A + "target": "198.51.100.2"}),
            listener_set(annotations={A + "target": "198.51.100.1"}),
        ],
        ON,
        {a("app.team.example.org", "198.51.100.1")},
    ),
    (
        "else the Gateway's",
        [ls_gateway(annotations={A + "target": "198.51.100.2"}), listener_set()],
        ON,
        {a("app.team.example.org", "198.51.100.2")},
    ),
]


@pytest.mark.parametrize(
    ("objects", "cfg", "expected"), [c[1:] for c in LS_CASES], ids=[c[0] for c in LS_CASES]
)
def test_listener_sets(objects: list[Obj], cfg: SourceConfig, expected: Records) -> None:
    assert records(LS_ROUTE, objects, cfg) == expected


def test_listener_set_routes_from_same_namespace_as_the_listener_set() -> None:
    ls = listener_set(listeners=[listener(hostname="*.team.example.org", name="web", origin="Same")])
    assert records(LS_ROUTE, [ls_gateway(), ls], ON) == {a("app.team.example.org", "192.0.2.10")}
    elsewhere = route(namespace="other", hostnames=["app.team.example.org"], parents=[LS_REF])
    assert records(elsewhere, [ls_gateway(), ls], ON) == set()


# --- settings checks ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "flag"),
    [
        ({"gateway_label_filter": "a=(b"}, "--gateway-label-filter"),
        ({"gateway_namespace": "Not_A_Namespace"}, "--gateway-namespace"),
        ({"gateway_name": "bad name"}, "--gateway-name"),
        ({"crd_source_apiversion": "example.com/v1"}, "--crd-source-apiversion"),
        ({"crd_source_kind": "Other"}, "--crd-source-kind"),
    ],
)
def test_bad_gateway_flags_name_the_flag(kwargs: dict[str, Any], flag: str) -> None:
    with pytest.raises(ValueError, match=flag):
        SourceConfig(**kwargs)


def test_route_endpoints_directly() -> None:
    cluster = Cluster.from_objects([gateway(), namespace("default")])
    result = route_endpoints("HTTPRoute", route(), cluster, SourceConfig())
    assert [(e.dns_name, e.targets) for e in result.endpoints] == [("web.example.org", ("192.0.2.10",))]
