"""Scenarios for the Gateway API route and DNSEndpoint differential test (test_gateway_differential.py).

A scenario is a set of Kubernetes objects (Namespaces, Gateways with their status addresses, routes with
their status parents, DNSEndpoints) built from a `Ctx`: its own namespaces and its own DNS domain
`<id>.<run base domain>`, so that every record either controller writes is attributable to exactly one
scenario. Scenarios are grouped into runs: each run is one `--once` of each controller with one set of
sources and flags over all its scenarios.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

GATEWAY_GROUP = "gateway.networking.k8s.io"
CONTROLLER = "example.net/gateway-controller"
ANN = "external-dns.kubernetes.io/"
ALPHA = "external-dns.alpha.kubernetes.io/"
STAMP = "2026-01-01T00:00:00Z"

# kind -> (group, version, plural): the versions ExternalDNS v0.22.0 reads.
KINDS: dict[str, tuple[str, str, str]] = {
    "Gateway": (GATEWAY_GROUP, "v1", "gateways"),
    "HTTPRoute": (GATEWAY_GROUP, "v1", "httproutes"),
    "GRPCRoute": (GATEWAY_GROUP, "v1", "grpcroutes"),
    "TLSRoute": (GATEWAY_GROUP, "v1", "tlsroutes"),
    "TCPRoute": (GATEWAY_GROUP, "v1alpha2", "tcproutes"),
    "UDPRoute": (GATEWAY_GROUP, "v1alpha2", "udproutes"),
    "DNSEndpoint": ("externaldns.k8s.io", "v1alpha1", "dnsendpoints"),
    "ListenerSet": (GATEWAY_GROUP, "v1", "listenersets"),
}
GATEWAY_SOURCES = (
    "gateway-httproute",
    "gateway-grpcroute",
    "gateway-tlsroute",
    "gateway-tcproute",
    "gateway-udproute",
)


@dataclass(frozen=True)
class Ctx:
    """Names for one scenario: namespaces `gwd-<tag>-<id>-<alias>`, hosts under `<id>.<base>`."""

    tag: str
    sid: str
    base: str

    def ns(self, alias: str = "a") -> str:
        return f"gwd-{self.tag}-{self.sid}-{alias}"

    @property
    def domain(self) -> str:
        return f"{self.sid}.{self.base}"

    def host(self, label: str = "") -> str:
        return f"{label}.{self.domain}" if label else self.domain


@dataclass(frozen=True)
class Run:
    """One `--once` of each controller: its sources and extra flags (a function of the scenario contexts)."""

    name: str
    sources: tuple[str, ...]
    flags: Callable[[Callable[[str], Ctx]], list[str]] = lambda ctx_of: []


@dataclass(frozen=True)
class Scenario:
    """Objects, the run they belong to, and whether ExternalDNS must write something for them."""

    id: str
    run: str
    build: Callable[[Ctx], list[Obj]]
    produces: bool = True
    # A documented difference (docs/compatibility.md, "Gateway API routes and DNSEndpoint"): the test
    # asserts ExternalDNS's records and ours separately instead of asserting equality.
    difference: str = ""
    namespaces: tuple[str, ...] = field(default=("a",))


# ---------------------------------------------------------------- object builders


def namespace(name: str, **labels: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def _meta(ns: str, name: str, annotations: dict[str, str] | None, labels: dict[str, str] | None) -> Obj:
    meta: Obj = {"name": name, "namespace": ns}
    if annotations:
        meta["annotations"] = annotations
    if labels:
        meta["labels"] = labels
    return meta


def listener(
    name: str,
    protocol: str = "HTTP",
    port: int = 80,
    hostname: str | None = None,
    allowed_from: str | None = None,
    selector: Obj | None = None,
    kinds: Sequence[Obj] | None = None,
) -> Obj:
    lis: Obj = {"name": name, "protocol": protocol, "port": port}
    if hostname is not None:
        lis["hostname"] = hostname
    allowed: Obj = {}
    if allowed_from is not None:
        allowed["namespaces"] = {"from": allowed_from}
        if selector is not None:
            allowed["namespaces"]["selector"] = selector
    if kinds is not None:
        allowed["kinds"] = list(kinds)
    if allowed:
        lis["allowedRoutes"] = allowed
    return lis


def address(value: str) -> Obj:
    kind = "IPAddress" if ":" in value or value.replace(".", "").isdigit() else "Hostname"
    return {"type": kind, "value": value}


def gateway(
    ns: str,
    name: str,
    listeners: Sequence[Obj],
    addresses: Sequence[str] = ("203.0.113.10",),
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> Obj:
    return {
        "apiVersion": f"{GATEWAY_GROUP}/v1",
        "kind": "Gateway",
        "metadata": _meta(ns, name, annotations, labels),
        "spec": {"gatewayClassName": "diff", "listeners": list(listeners)},
        "status": {"addresses": [address(a) for a in addresses]},
    }


def listener_set(
    ns: str,
    name: str,
    gw: str,
    listeners: Sequence[Obj],
    gw_ns: str | None = None,
    accepted: bool = True,
    accepted_listeners: dict[str, bool] | None = None,
    annotations: dict[str, str] | None = None,
) -> Obj:
    """A ListenerSet on Gateway `gw`, Accepted `accepted`.

    Each listener's Accepted per `accepted_listeners` (default all True; one left out has no status entry).
    """
    ref: Obj = {"name": gw}
    if gw_ns is not None:
        ref["namespace"] = gw_ns
    statuses = (
        accepted_listeners if accepted_listeners is not None else {lis["name"]: True for lis in listeners}
    )
    return {
        "apiVersion": f"{GATEWAY_GROUP}/v1",
        "kind": "ListenerSet",
        "metadata": _meta(ns, name, annotations, None),
        "spec": {"parentRef": ref, "listeners": list(listeners)},
        "status": {
            "conditions": [_condition("Accepted", accepted), _condition("Programmed", accepted)],
            "listeners": [
                {"name": lis, "attachedRoutes": 1, "supportedKinds": [{"kind": "HTTPRoute"}],
                 "conditions": [_condition("Accepted", ok)]}
                for lis, ok in statuses.items()
            ],
        },
    }  # fmt: skip


def allowing(gw: Obj, origin: str | None, selector: Obj | None = None) -> Obj:
    """The Gateway with `spec.allowedListeners.namespaces.from: origin` (None: left out, ExternalDNS's None)."""
    if origin is not None:
        namespaces: Obj = {"from": origin}
        if selector is not None:
            namespaces["selector"] = selector
        gw["spec"]["allowedListeners"] = {"namespaces": namespaces}
    return gw


def parent(
    name: str,
    ns: str | None = None,
    section: str | None = None,
    port: int | None = None,
    kind: str | None = None,
    group: str | None = None,
) -> Obj:
    ref: Obj = {"name": name}
    for key, value in (
        ("namespace", ns),
        ("sectionName", section),
        ("port", port),
        ("kind", kind),
        ("group", group),
    ):
        if value is not None:
            ref[key] = value
    return ref


def parent_status(ref: Obj, accepted: bool | None = True) -> Obj:
    """One `status.parents[]` entry; accepted None: a condition list without Accepted."""
    if accepted is None:
        conditions = [_condition("ResolvedRefs", True)]
    else:
        conditions = [_condition("Accepted", accepted), _condition("ResolvedRefs", True)]
    return {"parentRef": ref, "controllerName": CONTROLLER, "conditions": conditions}


def _condition(kind: str, ok: bool) -> Obj:
    return {
        "type": kind,
        "status": "True" if ok else "False",
        "reason": kind if ok else "NotAllowedByListeners",
        "message": "",
        "lastTransitionTime": STAMP,
        "observedGeneration": 1,
    }


def route(
    kind: str,
    ns: str,
    name: str,
    parents: Sequence[Obj],
    hostnames: Sequence[str] | None = None,
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    status: Sequence[Obj] | None = None,
) -> Obj:
    """A route of `kind`; status defaults to every parentRef Accepted=True (its ref copied as is)."""
    group, version, _ = KINDS[kind]
    spec: Obj = {"parentRefs": list(parents)}
    if hostnames is not None and kind not in ("TCPRoute", "UDPRoute"):
        spec["hostnames"] = list(hostnames)
    spec["rules"] = [{"backendRefs": [{"name": "backend", "port": 8080}]}]
    entries = list(status) if status is not None else [parent_status(p) for p in parents]
    return {
        "apiVersion": f"{group}/{version}",
        "kind": kind,
        "metadata": _meta(ns, name, annotations, labels),
        "spec": spec,
        "status": {"parents": entries},
    }


def http(
    ns: str, name: str, parents: Sequence[Obj], hostnames: Sequence[str] | None = None, **kw: Any
) -> Obj:
    return route("HTTPRoute", ns, name, parents, hostnames, **kw)


def dns_endpoint(ns: str, name: str, *endpoints: Obj, labels: dict[str, str] | None = None) -> Obj:
    group, version, _ = KINDS["DNSEndpoint"]
    return {
        "apiVersion": f"{group}/{version}",
        "kind": "DNSEndpoint",
        "metadata": _meta(ns, name, None, labels),
        "spec": {"endpoints": list(endpoints)},
    }


def ep(dns_name: str, record_type: str, *targets: str, ttl: int | None = None, **extra: Any) -> Obj:
    out: Obj = {"dnsName": dns_name, "recordType": record_type, "targets": list(targets)}
    if ttl is not None:
        out["recordTTL"] = ttl
    out.update(extra)
    return out


# ---------------------------------------------------------------- scenario helpers


def one_gateway(
    c: Ctx,
    gw_hostname: str | None,
    route_hostnames: Sequence[str] | None,
    **route_kw: Any,
) -> list[Obj]:
    """Gateway `gw` (one HTTP listener with gw_hostname) and HTTPRoute `r` on it, in namespace a."""
    a = c.ns()
    return [
        namespace(a),
        gateway(a, "gw", [listener("http", hostname=gw_hostname)]),
        http(a, "r", [parent("gw")], route_hostnames, **route_kw),
    ]


def _matrix(gw: str | None, rt: Sequence[str] | None) -> Callable[[Ctx], list[Obj]]:
    """Listener hostname x route hostnames; `@` in a name stands for the scenario's domain."""

    def build(c: Ctx) -> list[Obj]:
        def sub(h: str) -> str:
            return h.replace("@", c.domain)

        return one_gateway(c, sub(gw) if gw is not None else None, [sub(h) for h in rt] if rt else rt)

    return build


def _two_gateways(c: Ctx, second_accepted: bool | None, second_in_status: bool = True) -> list[Obj]:
    a = c.ns()
    refs = [parent("gw1"), parent("gw2")]
    status = [parent_status(refs[0])]
    if second_in_status:
        status.append(parent_status(refs[1], second_accepted))
    return [
        namespace(a),
        gateway(a, "gw1", [listener("http")], ["203.0.113.1"]),
        gateway(a, "gw2", [listener("http")], ["203.0.113.2"]),
        http(a, "r", refs, [c.host("app")], status=status),
    ]


def _sections(c: Ctx, ref: Obj) -> list[Obj]:
    a = c.ns()
    listeners = [
        listener("a", port=80, hostname=c.host("a")),
        listener("b", port=8080, hostname=c.host("b")),
    ]
    return [namespace(a), gateway(a, "gw", listeners), http(a, "r", [ref])]


def _cross_ns(c: Ctx, allowed: str | None, selector: Obj | None = None, **labels: str) -> list[Obj]:
    """Gateway in namespace a, HTTPRoute in namespace b (labels on b) referring to it explicitly."""
    a, b = c.ns("a"), c.ns("b")
    lis = listener("http", allowed_from=allowed, selector=selector)
    return [
        namespace(a),
        namespace(b, **labels),
        gateway(a, "gw", [lis]),
        http(b, "r", [parent("gw", ns=a)], [c.host("app")]),
    ]


def _kinds(c: Ctx, kind: str, allowed_kinds: Sequence[Obj]) -> list[Obj]:
    a = c.ns()
    lis = listener("http", allowed_from="Same", kinds=allowed_kinds)
    return [
        namespace(a),
        gateway(a, "gw", [lis]),
        route(kind, a, "r", [parent("gw")], [c.host("app")]),
    ]


def _addresses(*addrs: str, annotations: dict[str, str] | None = None) -> Callable[[Ctx], list[Obj]]:
    def build(c: Ctx) -> list[Obj]:
        a = c.ns()
        gw = gateway(a, "gw", [listener("http")], addrs, annotations=annotations)
        return [namespace(a), gw, http(a, "r", [parent("gw")], [c.host("app")])]

    return build


def _annotated(
    ann: dict[str, str], hostnames: Sequence[str] | None = ("app",), gw_host: str | None = None
) -> Callable[[Ctx], list[Obj]]:
    """HTTPRoute with annotations (`@` = the domain) on a one-listener Gateway."""

    def build(c: Ctx) -> list[Obj]:
        def sub(h: str) -> str:
            return h.replace("@", c.domain)

        hosts = [c.host(h) for h in hostnames] if hostnames is not None else None
        return one_gateway(
            c, sub(gw_host) if gw_host else None, hosts, annotations={k: sub(v) for k, v in ann.items()}
        )

    return build


def _protocols(c: Ctx, kind: str, hostnames: Sequence[str] | None = None, **kw: Any) -> list[Obj]:
    """A Gateway with one listener per protocol, each with its own hostname; one route of `kind` on it."""
    a = c.ns()
    listeners = [
        listener("http", "HTTP", 80, c.host("http")),
        listener("https", "HTTPS", 443, c.host("https")),
        listener("tls", "TLS", 8443, c.host("tls")),
        listener("tcp", "TCP", 9000, c.host("tcp")),
        listener("udp", "UDP", 9001, c.host("udp")),
    ]
    gw = gateway(a, "gw", listeners, ["203.0.113.20", "2001:db8::20"])
    return [namespace(a), gw, route(kind, a, "r", [parent("gw")], hostnames, **kw)]


def _filtered(c: Ctx) -> list[Obj]:
    """Three Gateways a route attaches to: `edge` in a (tier=public), `other` in a, `edge` in b (tier=dmz)."""
    a, b = c.ns("a"), c.ns("b")
    everyone = listener("http", allowed_from="All")
    refs = [parent("edge"), parent("other"), parent("edge", ns=b)]
    return [
        namespace(a),
        namespace(b),
        gateway(a, "edge", [everyone], ["203.0.113.1"], labels={"tier": "public"}),
        gateway(a, "other", [everyone], ["203.0.113.2"], labels={"tier": "private"}),
        gateway(b, "edge", [everyone], ["203.0.113.3"], labels={"tier": "dmz"}),
        http(a, "r", refs, [c.host("app")]),
        route("GRPCRoute", a, "g", refs, [c.host("grpc")]),
    ]


def _dnsendpoints(*endpoints: Obj, **kw: Any) -> Callable[[Ctx], list[Obj]]:
    """One DNSEndpoint `e` in namespace a; `@` in dnsName/targets stands for the domain."""

    def sub(value: Any, c: Ctx) -> Any:
        if isinstance(value, str):
            return value.replace("@", c.domain)
        if isinstance(value, list):
            return [sub(v, c) for v in value]
        return value

    def build(c: Ctx) -> list[Obj]:
        a = c.ns()
        eps = [{k: sub(v, c) for k, v in e.items()} for e in endpoints]
        return [namespace(a), dns_endpoint(a, "e", *eps, **kw)]

    return build


def _two_dnsendpoints(c: Ctx, ttls: tuple[int | None, int | None] = (None, None)) -> list[Obj]:
    """e1 and e2 both for `same`: e1 with the larger address, so the smaller belongs to e2."""
    a = c.ns()
    return [
        namespace(a),
        dns_endpoint(a, "e1", ep(c.host("same"), "A", "192.0.2.2", ttl=ttls[0])),
        dns_endpoint(a, "e2", ep(c.host("same"), "A", "192.0.2.1", ttl=ttls[1])),
    ]


def _two_routes(c: Ctx, ttls: tuple[str, str] | None = None) -> list[Obj]:
    """r1 (on gw2, 203.0.113.2) and r2 (on gw1, 203.0.113.1) both for `app`, with TTL annotations if given."""
    a = c.ns()
    ann: list[dict[str, str] | None] = [{ANN + "ttl": t} for t in ttls] if ttls else [None, None]
    return [
        namespace(a),
        gateway(a, "gw1", [listener("http")], ["203.0.113.1"]),
        gateway(a, "gw2", [listener("http")], ["203.0.113.2"]),
        http(a, "r1", [parent("gw2")], [c.host("app")], annotations=ann[0]),
        http(a, "r2", [parent("gw1")], [c.host("app")], annotations=ann[1]),
    ]


def ls_parent(name: str, ns: str | None = None, section: str | None = None) -> Obj:
    return parent(name, ns, section, kind="ListenerSet", group=GATEWAY_GROUP)


def _ls(
    allowed: str | None = "All",
    ls_hostnames: Sequence[str | None] = ("*.@",),
    route_hostnames: Sequence[str] | None = ("app.@",),
    section: str | None = None,
    gw_annotations: dict[str, str] | None = None,
    **ls_kw: Any,
) -> Callable[[Ctx], list[Obj]]:
    """A route on a ListenerSet on a Gateway; `@` in a hostname stands for the scenario's domain.

    Gateway `gw` in namespace a (203.0.113.30, allowing ListenerSets from `allowed`); ListenerSet `ls` in
    namespace b with one HTTP listener per hostname (`l0`, `l1`, ...); HTTPRoute `r` in b on the ListenerSet.
    """

    def build(c: Ctx) -> list[Obj]:
        def sub(h: str) -> str:
            return h.replace("@", c.domain)

        a, b = c.ns("a"), c.ns("b")
        listeners = [
            listener(f"l{i}", hostname=sub(h) if h is not None else None) for i, h in enumerate(ls_hostnames)
        ]
        gw = gateway(a, "gw", [listener("http", hostname=f"gw.{c.domain}")], ["203.0.113.30"], gw_annotations)
        hosts = [sub(h) for h in route_hostnames] if route_hostnames is not None else None
        return [
            namespace(a),
            namespace(b),
            allowing(gw, allowed),
            listener_set(b, "ls", "gw", listeners, gw_ns=a, **ls_kw),
            http(b, "r", [ls_parent("ls", section=section)], hosts),
        ]

    return build


def _ls_by_namespace(c: Ctx, origin: str) -> list[Obj]:
    """Gateway in a allowing ListenerSets from `origin` (Selector: label ls=yes).

    A ListenerSet in each of a, b (labelled) and c, each with its own route: `in-a`, `in-b`, `in-c`.
    """
    a, b, d = c.ns("a"), c.ns("b"), c.ns("c")
    gw = gateway(a, "gw", [listener("http", hostname=f"gw.{c.domain}")], ["203.0.113.31"])
    out = [
        namespace(a),
        namespace(b, ls="yes"),
        namespace(d),
        allowing(gw, origin, {"matchLabels": {"ls": "yes"}}),
    ]
    for ns, label in ((a, "in-a"), (b, "in-b"), (d, "in-c")):
        out.append(listener_set(ns, "ls", "gw", [listener("web", hostname=f"*.{c.domain}")], gw_ns=a))
        out.append(http(ns, "r", [ls_parent("ls")], [c.host(label)]))
    return out


def _ls_route_selector(c: Ctx) -> list[Obj]:
    """A ListenerSet in b admitting routes from namespaces labelled dns=yes; routes in c (labelled), a (not)."""
    a, b, d = c.ns("a"), c.ns("b"), c.ns("c")
    gw = gateway(a, "gw", [listener("http")], ["203.0.113.32"])
    lis = listener(
        "web", hostname=f"*.{c.domain}", allowed_from="Selector", selector={"matchLabels": {"dns": "yes"}}
    )
    return [
        namespace(a),
        namespace(b),
        namespace(d, dns="yes"),
        allowing(gw, "All"),
        listener_set(b, "ls", "gw", [lis], gw_ns=a),
        http(d, "r", [ls_parent("ls", b)], [c.host("labelled")]),
        http(a, "r", [ls_parent("ls", b)], [c.host("unlabelled")]),
    ]


def _ls_and_gateway(c: Ctx) -> list[Obj]:
    """One route on a Gateway directly (203.0.113.33) and on a ListenerSet of another Gateway (203.0.113.34)."""
    a, b = c.ns("a"), c.ns("b")
    everyone = listener("http", allowed_from="All")
    return [
        namespace(a),
        namespace(b),
        gateway(a, "direct", [everyone], ["203.0.113.33"]),
        allowing(gateway(a, "gw", [listener("http")], ["203.0.113.34"]), "All"),
        listener_set(b, "ls", "gw", [listener("web", hostname=f"*.{c.domain}")], gw_ns=a),
        http(b, "r", [parent("direct", a), ls_parent("ls")], [c.host("app")]),
    ]


def _ls_gateway_missing(c: Ctx) -> list[Obj]:
    b = c.ns("b")
    return [
        namespace(b),
        listener_set(b, "ls", "nowhere", [listener("web", hostname=f"*.{c.domain}")]),
        http(b, "r", [ls_parent("ls")], [c.host("app")]),
    ]


# ---------------------------------------------------------------- the runs and scenarios

TXT_TYPES = ["--managed-record-types=A", "--managed-record-types=AAAA", "--managed-record-types=CNAME"]

RUNS: dict[str, Run] = {
    "main": Run("main", (*GATEWAY_SOURCES, "crd")),
    "txt": Run("txt", ("crd",), lambda ctx_of: [*TXT_TYPES, "--managed-record-types=TXT"]),
    "gwname": Run(
        "gwname", ("gateway-httproute", "gateway-grpcroute"), lambda ctx_of: ["--gateway-name=edge"]
    ),
    "gwns": Run(
        "gwns",
        ("gateway-httproute", "gateway-grpcroute"),
        lambda ctx_of: [f"--gateway-namespace={ctx_of('gateway-namespace').ns('b')}"],
    ),
    "gwlabel": Run(
        "gwlabel",
        ("gateway-httproute", "gateway-grpcroute"),
        lambda ctx_of: ["--gateway-label-filter=tier in (public,dmz)"],
    ),
    "lsets": Run("lsets", GATEWAY_SOURCES, lambda ctx_of: ["--gateway-listener-sets"]),
}

AB = ("a", "b")
ABC = ("a", "b", "c")
SCENARIOS: list[Scenario] = [
    # listener hostname x route hostnames (HTTPRoute, one HTTP listener)
    Scenario("lis-none-rt-none", "main", _matrix(None, None), produces=False),
    Scenario("lis-none-rt-exact", "main", _matrix(None, ["app.@"])),
    Scenario("lis-none-rt-wild", "main", _matrix(None, ["*.w.@"])),
    Scenario("lis-exact-rt-none", "main", _matrix("gw.@", None)),
    Scenario("lis-exact-rt-same", "main", _matrix("app.@", ["app.@"])),
    Scenario("lis-exact-rt-other", "main", _matrix("app.@", ["other.@"]), produces=False),
    Scenario("lis-exact-rt-wild-match", "main", _matrix("app.w.@", ["*.w.@"])),
    Scenario("lis-exact-rt-wild-nomatch", "main", _matrix("app.@", ["*.w.@"]), produces=False),
    Scenario("lis-wild-rt-none", "main", _matrix("*.w.@", None)),
    Scenario("lis-wild-rt-exact", "main", _matrix("*.w.@", ["a.w.@", "x.y.w.@", "w.@", "b.@"])),
    Scenario("lis-wild-rt-wild-narrower", "main", _matrix("*.w.@", ["*.n.w.@"])),
    Scenario("lis-wild-rt-wild-same", "main", _matrix("*.w.@", ["*.w.@"])),
    Scenario("lis-wild-rt-wild-wider", "main", _matrix("*.n.w.@", ["*.w.@"])),
    Scenario("lis-wild-rt-wild-other", "main", _matrix("*.w.@", ["*.v.@"]), produces=False),
    Scenario("rt-hostname-case-and-ip", "main", _matrix(None, ["MiXed.@", "192.0.2.9", "ok.@"])),
    Scenario(
        "listeners-several",
        "main",
        lambda c: [
            namespace(c.ns()),
            gateway(
                c.ns(),
                "gw",
                [
                    listener("a", hostname=c.host("a")),
                    listener("w", port=81, hostname=f"*.w.{c.domain}"),
                    listener("any", port=82),
                    listener("dup", port=83, hostname=c.host("a")),
                ],
            ),
            http(c.ns(), "r", [parent("gw")]),
        ],
    ),
    # parentRef sectionName and port
    Scenario("section-name", "main", lambda c: _sections(c, parent("gw", section="b"))),
    Scenario(
        "section-name-unknown", "main", lambda c: _sections(c, parent("gw", section="zz")), produces=False
    ),
    Scenario("port", "main", lambda c: _sections(c, parent("gw", port=8080))),
    Scenario("port-unknown", "main", lambda c: _sections(c, parent("gw", port=9999)), produces=False),
    Scenario(
        "section-and-port-disagree",
        "main",
        lambda c: _sections(c, parent("gw", section="a", port=8080)),
        produces=False,
    ),
    # allowedRoutes: namespaces and kinds
    Scenario("allowed-default-cross-ns", "main", lambda c: _cross_ns(c, None), produces=False, namespaces=AB),
    Scenario("allowed-same-cross-ns", "main", lambda c: _cross_ns(c, "Same"), produces=False, namespaces=AB),
    Scenario("allowed-all-cross-ns", "main", lambda c: _cross_ns(c, "All"), namespaces=AB),
    Scenario(
        "allowed-selector-match",
        "main",
        lambda c: _cross_ns(c, "Selector", {"matchLabels": {"team": "blue"}}, team="blue"),
        namespaces=AB,
    ),
    Scenario(
        "allowed-selector-nomatch",
        "main",
        lambda c: _cross_ns(c, "Selector", {"matchLabels": {"team": "blue"}}, team="red"),
        produces=False,
        namespaces=AB,
    ),
    Scenario(
        "allowed-selector-expression",
        "main",
        lambda c: _cross_ns(
            c,
            "Selector",
            {"matchExpressions": [{"key": "team", "operator": "In", "values": ["red", "green"]}]},
            team="green",
        ),
        namespaces=AB,
    ),
    Scenario(
        "cross-ns-parent-without-namespace",
        "main",
        lambda c: [
            namespace(c.ns("a")),
            namespace(c.ns("b")),
            gateway(c.ns("a"), "gw", [listener("http", allowed_from="All")]),
            # spec parentRef without namespace (= the route's), status entry naming the Gateway's namespace
            http(
                c.ns("b"),
                "r",
                [parent("gw")],
                [c.host("app")],
                status=[parent_status(parent("gw", ns=c.ns("a")))],
            ),
        ],
        produces=False,
        namespaces=AB,
    ),
    Scenario("allowed-kinds-match", "main", lambda c: _kinds(c, "HTTPRoute", [{"kind": "HTTPRoute"}])),
    Scenario(
        "allowed-kinds-nomatch",
        "main",
        lambda c: _kinds(c, "HTTPRoute", [{"kind": "GRPCRoute"}]),
        produces=False,
    ),
    Scenario(
        "allowed-kinds-other-group",
        "main",
        lambda c: _kinds(c, "HTTPRoute", [{"group": "example.net", "kind": "HTTPRoute"}]),
        produces=False,
    ),
    Scenario(
        "allowed-kinds-grpc",
        "main",
        lambda c: _kinds(
            c, "GRPCRoute", [{"kind": "HTTPRoute"}, {"group": GATEWAY_GROUP, "kind": "GRPCRoute"}]
        ),
    ),
    # several parents, acceptance in route status
    Scenario("two-gateways", "main", lambda c: _two_gateways(c, True)),
    Scenario("two-gateways-one-not-accepted", "main", lambda c: _two_gateways(c, False)),
    Scenario("two-gateways-one-without-accepted", "main", lambda c: _two_gateways(c, None)),
    Scenario(
        "two-gateways-one-status-missing", "main", lambda c: _two_gateways(c, True, second_in_status=False)
    ),
    Scenario(
        "not-accepted",
        "main",
        lambda c: one_gateway(c, None, [c.host("app")], status=[parent_status(parent("gw"), False)]),
        produces=False,
    ),
    Scenario(
        "no-status",
        "main",
        lambda c: one_gateway(c, None, [c.host("app")], status=[]),
        produces=False,
    ),
    Scenario(
        "status-parent-not-in-spec",
        "main",
        lambda c: [
            namespace(c.ns()),
            gateway(c.ns(), "gw", [listener("http")], ["203.0.113.1"]),
            gateway(c.ns(), "gw2", [listener("http")], ["203.0.113.2"]),
            http(
                c.ns(),
                "r",
                [parent("gw")],
                [c.host("app")],
                status=[parent_status(parent("gw")), parent_status(parent("gw2"))],
            ),
        ],
    ),
    Scenario(
        "gateway-missing",
        "main",
        lambda c: [namespace(c.ns()), http(c.ns(), "r", [parent("nope")], [c.host("app")])],
        produces=False,
    ),
    Scenario(
        "parent-kind-service",
        "main",
        lambda c: [
            namespace(c.ns()),
            gateway(c.ns(), "gw", [listener("http")]),
            http(c.ns(), "r", [parent("gw", kind="Service", group="")], [c.host("app")]),
        ],
        produces=False,
    ),
    Scenario("two-routes-same-host", "main", _two_routes, difference="merged-resource"),
    Scenario("two-routes-same-host-ttls", "main", lambda c: _two_routes(c, ("60", "120"))),
    # Gateway status addresses and the target annotation
    Scenario("addr-ipv6", "main", _addresses("2001:db8::1")),
    Scenario("addr-dual-stack", "main", _addresses("203.0.113.5", "2001:db8::5", "203.0.113.6")),
    Scenario("addr-hostname", "main", _addresses("lb.elb.example.net")),
    Scenario("addr-hostname-and-ip", "main", _addresses("lb.elb.example.net", "203.0.113.7")),
    Scenario("addr-none", "main", _addresses(), produces=False),
    Scenario(
        "gw-target-annotation",
        "main",
        _addresses("203.0.113.8", annotations={ANN + "target": "198.51.100.1, lb2.example.net."}),
    ),
    Scenario(
        "gw-target-annotation-alpha",
        "main",
        _addresses("203.0.113.9", annotations={ALPHA + "target": "198.51.100.2"}),
        difference="alpha-prefix",
    ),
    # route annotations
    Scenario("rt-ann-hostname", "main", _annotated({ANN + "hostname": "extra.@,more.@"})),
    Scenario(
        "rt-ann-hostname-vs-listener",
        "main",
        _annotated({ANN + "hostname": "x.w.@, y.v.@"}, hostnames=None, gw_host="*.w.@"),
    ),
    Scenario("rt-ann-ttl", "main", _annotated({ANN + "ttl": "60"})),
    Scenario("rt-ann-ttl-duration", "main", _annotated({ANN + "ttl": "2m"})),
    Scenario("rt-ann-ttl-invalid", "main", _annotated({ANN + "ttl": "soon"})),
    Scenario(
        "rt-source-annotation-only",
        "main",
        _annotated({ANN + "hostname": "extra.@", ANN + "gateway-hostname-source": "annotation-only"}),
    ),
    Scenario(
        "rt-source-annotation-only-none",
        "main",
        _annotated({ANN + "gateway-hostname-source": "annotation-only"}),
        produces=False,
    ),
    Scenario(
        "rt-source-defined-hosts-only",
        "main",
        _annotated({ANN + "hostname": "extra.@", ANN + "gateway-hostname-source": "Defined-Hosts-Only"}),
    ),
    Scenario(
        "rt-source-invalid",
        "main",
        _annotated({ANN + "hostname": "extra.@", ANN + "gateway-hostname-source": "everything"}),
    ),
    Scenario("rt-controller-other", "main", _annotated({ANN + "controller": "someone-else"}), produces=False),
    Scenario("rt-coredns-group", "main", _annotated({ANN + "coredns-group": "g1"})),
    # every route kind on a Gateway with one listener per protocol (protocol rules per kind)
    Scenario("kind-httproute", "main", lambda c: _protocols(c, "HTTPRoute")),
    Scenario("kind-grpcroute", "main", lambda c: _protocols(c, "GRPCRoute")),
    Scenario("kind-tlsroute", "main", lambda c: _protocols(c, "TLSRoute")),
    Scenario("kind-tcproute", "main", lambda c: _protocols(c, "TCPRoute")),
    Scenario("kind-udproute", "main", lambda c: _protocols(c, "UDPRoute")),
    Scenario(
        "kind-tlsroute-hostnames", "main", lambda c: _protocols(c, "TLSRoute", [c.host("tls"), c.host("x")])
    ),
    Scenario(
        "kind-tcproute-annotation",
        "main",
        lambda c: [
            namespace(c.ns()),
            gateway(c.ns(), "gw", [listener("tcp", "TCP", 9000)]),
            route("TCPRoute", c.ns(), "r", [parent("gw")], annotations={ANN + "hostname": c.host("t")}),
        ],
    ),
    Scenario(
        "kind-udproute-section",
        "main",
        lambda c: [
            *_protocols(c, "UDPRoute")[:2],
            route("UDPRoute", c.ns(), "r", [parent("gw", section="tcp")]),
            route("UDPRoute", c.ns(), "r2", [parent("gw", section="udp")]),
        ],
    ),
    # the Gateway filter flags (runs of their own)
    Scenario("gateway-name", "gwname", _filtered, namespaces=AB),
    Scenario("gateway-namespace", "gwns", _filtered, namespaces=AB),
    Scenario("gateway-label-filter", "gwlabel", _filtered, namespaces=AB),
    # ListenerSet parents (--gateway-listener-sets; without it, such a parent is none)
    Scenario("ls-flag-off", "main", _ls(), produces=False, namespaces=AB),
    Scenario("ls-attached", "lsets", _ls(), namespaces=AB),
    Scenario("ls-not-accepted", "lsets", _ls(accepted=False), produces=False, namespaces=AB),
    Scenario(
        "ls-listener-not-accepted",
        "lsets",
        _ls(ls_hostnames=("x.@", "y.@"), route_hostnames=None, accepted_listeners={"l0": False, "l1": True}),
        namespaces=AB,
    ),
    Scenario(
        "ls-listener-no-status",
        "lsets",
        _ls(ls_hostnames=("x.@", "y.@"), route_hostnames=None, accepted_listeners={"l1": True}),
        namespaces=AB,
    ),
    Scenario("ls-gateway-allows-none", "lsets", _ls(None), produces=False, namespaces=AB),
    Scenario("ls-gateway-allows-none-explicit", "lsets", _ls("None"), produces=False, namespaces=AB),
    Scenario("ls-gateway-allows-same", "lsets", lambda c: _ls_by_namespace(c, "Same"), namespaces=ABC),
    Scenario(
        "ls-gateway-allows-selector", "lsets", lambda c: _ls_by_namespace(c, "Selector"), namespaces=ABC
    ),
    Scenario("ls-gateway-allows-all", "lsets", lambda c: _ls_by_namespace(c, "All"), namespaces=ABC),
    Scenario("ls-gateway-missing", "lsets", _ls_gateway_missing, produces=False, namespaces=("b",)),
    Scenario("ls-route-selector", "lsets", _ls_route_selector, namespaces=ABC),
    Scenario("ls-and-gateway", "lsets", _ls_and_gateway, namespaces=AB),
    # listener hostname x route hostnames on a ListenerSet listener
    Scenario(
        "ls-lis-none-rt-none",
        "lsets",
        _ls(ls_hostnames=(None,), route_hostnames=None),
        produces=False,
        namespaces=AB,
    ),
    Scenario(
        "ls-lis-none-rt-exact", "lsets", _ls(ls_hostnames=(None,), route_hostnames=("app.@",)), namespaces=AB
    ),
    Scenario(
        "ls-lis-exact-rt-none", "lsets", _ls(ls_hostnames=("ls.@",), route_hostnames=None), namespaces=AB
    ),
    Scenario(
        "ls-lis-exact-rt-other",
        "lsets",
        _ls(ls_hostnames=("ls.@",), route_hostnames=("other.@",)),
        produces=False,
        namespaces=AB,
    ),
    Scenario(
        "ls-lis-wild-rt-wild",
        "lsets",
        _ls(ls_hostnames=("*.@",), route_hostnames=("*.w.@", "x.@")),
        namespaces=AB,
    ),
    Scenario(
        "ls-lis-wild-rt-none", "lsets", _ls(ls_hostnames=("*.w.@",), route_hostnames=None), namespaces=AB
    ),
    Scenario(
        "ls-lis-two-rt-section",
        "lsets",
        _ls(ls_hostnames=("a.@", "b.@"), route_hostnames=None, section="l1"),
        namespaces=AB,
    ),
    Scenario(
        "ls-lis-two-rt-unknown-section",
        "lsets",
        _ls(ls_hostnames=("a.@",), route_hostnames=None, section="zz"),
        produces=False,
        namespaces=AB,
    ),
    # the target annotation: the ListenerSet's, else its Gateway's, else the Gateway's addresses
    Scenario(
        "ls-target-listener-set",
        "lsets",
        _ls(annotations={ANN + "target": "198.51.100.30"}, gw_annotations={ANN + "target": "198.51.100.31"}),
        namespaces=AB,
    ),
    Scenario(
        "ls-target-gateway", "lsets", _ls(gw_annotations={ANN + "target": "lb.example.net"}), namespaces=AB
    ),
    # DNSEndpoint
    Scenario("crd-a", "main", _dnsendpoints(ep("a.@", "A", "192.0.2.1", "192.0.2.2", ttl=120))),
    Scenario("crd-aaaa", "main", _dnsendpoints(ep("v6.@", "AAAA", "2001:db8::1"))),
    Scenario("crd-cname", "main", _dnsendpoints(ep("c.@", "CNAME", "target.example.net"))),
    Scenario("crd-cname-dot", "main", _dnsendpoints(ep("c.@", "CNAME", "target.example.net."))),
    Scenario(
        "crd-illegal-dot",
        "main",
        _dnsendpoints(ep("bad.@", "A", "192.0.2.1."), ep("ok.@", "A", "192.0.2.3")),
    ),
    Scenario("crd-wildcard", "main", _dnsendpoints(ep("*.w.@", "A", "192.0.2.4"))),
    Scenario("crd-no-targets", "main", _dnsendpoints(ep("empty.@", "A")), difference="no-targets"),
    Scenario(
        "crd-several",
        "main",
        _dnsendpoints(
            ep("one.@", "A", "192.0.2.5"),
            ep("one.@", "AAAA", "2001:db8::5"),
            ep("two.@", "CNAME", "one.@"),
        ),
    ),
    Scenario(
        "crd-provider-specific",
        "main",
        _dnsendpoints(
            ep(
                "ps.@",
                "A",
                "192.0.2.6",
                providerSpecific=[{"name": "coredns/group", "value": "g1"}, {"name": "aws/x", "value": "y"}],
            ),
            labels={"app": "dns"},
        ),
    ),
    Scenario(
        "crd-endpoint-labels", "main", _dnsendpoints(ep("lb.@", "A", "192.0.2.9", labels={"team": "x"}))
    ),
    Scenario("crd-ttl-zero", "main", _dnsendpoints(ep("z.@", "A", "192.0.2.7", ttl=0))),
    Scenario("crd-txt-unmanaged", "main", _dnsendpoints(ep("t.@", "TXT", "hello")), produces=False),
    Scenario(
        "crd-unsupported-types",
        "main",
        _dnsendpoints(
            ep("_sip._udp.@", "SRV", "10 5 5060 sip.example.net."),
            ep("@", "MX", "10 mail.example.net"),
            ep("sub.@", "NS", "ns1.example.net"),
            ep("n.@", "NAPTR", '100 10 "u" "E2U+sip" "!^.*$!sip:x@example.net!" .'),
            ep("p.@", "BOGUS", "x"),
        ),
        produces=False,
    ),
    Scenario("crd-two-objects-same-name", "main", _two_dnsendpoints, difference="merged-resource"),
    Scenario("crd-two-objects-ttls", "main", lambda c: _two_dnsendpoints(c, (60, 120))),
    Scenario("crd-txt", "txt", _dnsendpoints(ep("t.@", "TXT", "hello world", ttl=90))),
    Scenario(
        "crd-txt-beside-a",
        "txt",
        _dnsendpoints(ep("both.@", "A", "192.0.2.8"), ep("both.@", "TXT", "v=spf1 -all")),
    ),
]
