"""The emitter's mapping of Gateway and Namespace events to routes, and its discovery of CRD-backed kinds."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from emitter.discovery import Discovery
from emitter.process import ServiceIndex, affected
from emitter.routes import RouteIndex
from extdns.sources import ObjectRef

GW = "gateway.networking.k8s.io"


def route(kind: str, ns: str, name: str, *parents: dict[str, Any]) -> dict[str, Any]:
    return {"kind": kind, "metadata": {"namespace": ns, "name": name}, "spec": {"parentRefs": list(parents)}}


def gateway(ns: str, name: str, origin: str = "Same") -> dict[str, Any]:
    listener: dict[str, Any] = {"name": "http", "protocol": "HTTP", "port": 80}
    if origin != "Same":
        listener["allowedRoutes"] = {"namespaces": {"from": origin, "selector": {"matchLabels": {"a": "b"}}}}
    return {"kind": "Gateway", "metadata": {"namespace": ns, "name": name}, "spec": {"listeners": [listener]}}


def namespace(name: str) -> dict[str, Any]:
    return {"kind": "Namespace", "metadata": {"name": name, "labels": {"a": "b"}}}


def refs(*found: ObjectRef) -> list[tuple[str, str, str]]:
    return sorted((r.kind, r.namespace, r.name) for r in found)


@pytest.fixture
def index() -> RouteIndex:
    idx = RouteIndex()
    idx.update_route(
        "HTTPRoute", route("HTTPRoute", "app", "web", {"name": "gw", "namespace": "infra"}), False
    )
    idx.update_route("GRPCRoute", route("GRPCRoute", "app", "rpc", {"name": "gw", "namespace": "infra"},
                                        {"name": "local"}), False)  # fmt: skip
    idx.update_route(
        "TCPRoute", route("TCPRoute", "other", "db", {"name": "gw", "namespace": "infra"}), False
    )
    idx.update_route("HTTPRoute", route("HTTPRoute", "app", "svc", {"name": "svc", "kind": "Service", "group": ""}),
                     False)  # fmt: skip
    return idx


def test_a_gateway_event_maps_to_every_route_naming_it_whatever_the_kind_or_namespace(
    index: RouteIndex,
) -> None:
    got = affected("Gateway", gateway("infra", "gw"), ServiceIndex(), index)
    assert refs(*got) == [
        ("GRPCRoute", "app", "rpc"),
        ("HTTPRoute", "app", "web"),
        ("TCPRoute", "other", "db"),
    ]
    # the default namespace of a parentRef is the route's own
    assert refs(*affected("Gateway", gateway("app", "local"), ServiceIndex(), index)) == [
        ("GRPCRoute", "app", "rpc")
    ]
    assert affected("Gateway", gateway("infra", "unknown"), ServiceIndex(), index) == []
    assert affected("Gateway", gateway("app", "svc"), ServiceIndex(), index) == [], (
        "a Service parent is no Gateway"
    )


def test_a_route_that_drops_a_parent_or_is_deleted_is_no_longer_mapped(index: RouteIndex) -> None:
    index.update_route("GRPCRoute", route("GRPCRoute", "app", "rpc", {"name": "local"}), False)
    index.update_route("TCPRoute", route("TCPRoute", "other", "db"), True)
    assert refs(*index.routes_of_gateway("infra", "gw")) == [("HTTPRoute", "app", "web")]
    assert refs(*index.routes_of_gateway("app", "local")) == [("GRPCRoute", "app", "rpc")]
    index.update_route("HTTPRoute", route("HTTPRoute", "app", "web"), True)
    assert index.routes_of_gateway("infra", "gw") == []
    assert index.routes == {("app", "local"): {ObjectRef("GRPCRoute", "app", "rpc")}}, "no empty entries left"


def test_a_namespace_event_maps_to_its_routes_on_gateways_that_select_namespaces(index: RouteIndex) -> None:
    services = ServiceIndex()
    assert affected("Namespace", namespace("app"), services, index) == [], "no Gateway selects by label yet"
    index.update_gateway(gateway("infra", "gw", "Selector"), False)
    assert refs(*affected("Namespace", namespace("app"), services, index)) == [
        ("GRPCRoute", "app", "rpc"),
        ("HTTPRoute", "app", "web"),
    ]
    assert refs(*affected("Namespace", namespace("other"), services, index)) == [("TCPRoute", "other", "db")]
    assert affected("Namespace", namespace("infra"), services, index) == [], "no routes live there"
    index.update_gateway(gateway("infra", "gw", "All"), False)
    assert affected("Namespace", namespace("app"), services, index) == []
    index.update_gateway(gateway("infra", "gw", "Selector"), False)
    index.update_gateway(gateway("infra", "gw", "Selector"), True)
    assert affected("Namespace", namespace("app"), services, index) == []


def test_routes_and_dns_endpoints_map_to_themselves() -> None:
    for kind in ("HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute", "DNSEndpoint"):
        obj = {"kind": kind, "metadata": {"namespace": "ns", "name": "x", "uid": "u1"}}
        assert affected(kind, obj, ServiceIndex(), RouteIndex()) == [ObjectRef(kind, "ns", "x", "u1")]


class FlakyDiscovery:
    """`served` answers from a list of answers (an exception is raised)."""

    def __init__(self, *answers: set[str] | Exception) -> None:
        self.answers = list(answers)

    def served(self, kinds: Any) -> set[str]:
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return set(answer) & set(kinds)


def test_discovery_starts_kinds_as_they_appear_and_stops_those_that_go() -> None:
    calls: list[tuple[str, str, bool]] = []
    kube = FlakyDiscovery(
        {"DNSEndpoint"}, {"DNSEndpoint", "HTTPRoute", "Gateway"}, {"DNSEndpoint", "Gateway"}
    )
    d = Discovery(
        kube,  # type: ignore[arg-type]
        ["HTTPRoute", "Gateway", "DNSEndpoint"],
        lambda kind, late: calls.append(("start", kind, late)),
        lambda kind: calls.append(("stop", kind, False)),
        threading.Event(),
    )
    d.check()
    assert calls == [("start", "DNSEndpoint", False)], "at the start of a term: not late"
    d.check()
    assert calls[1:] == [("start", "HTTPRoute", True), ("start", "Gateway", True)], "appeared later: late"
    d.check()
    assert calls[3:] == [("stop", "HTTPRoute", False)]
    d.check()
    assert calls[4:] == [], "nothing changes, nothing is done"
    assert d.watching == {"DNSEndpoint", "Gateway"}


def test_discovery_survives_failures_and_is_ready_after_its_first_attempt() -> None:
    done = threading.Event()
    started: list[tuple[str, bool]] = []
    kube = FlakyDiscovery(ConnectionError("refused"), {"HTTPRoute"})
    d = Discovery(kube, ["HTTPRoute"], lambda k, late: started.append((k, late)), lambda k: None, done,  # type: ignore[arg-type]
                  interval=0.01)  # fmt: skip
    t = threading.Thread(target=d.run, daemon=True)
    t.start()
    assert d.ready.wait(5)
    deadline = threading.Event()
    for _ in range(500):
        if started:
            break
        deadline.wait(0.01)
    done.set()
    t.join(5)
    assert started == [("HTTPRoute", False)], "the first successful check is the term's start"


# ---------------------------------------------------------------- ListenerSets (--gateway-listener-sets)


def ls_ref(name: str, ns: str | None = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"group": GW, "kind": "ListenerSet", "name": name}
    if ns is not None:
        ref["namespace"] = ns
    return ref


def listener_set(ns: str, name: str, gw_ns: str | None, gw: str, origin: str = "Same") -> dict[str, Any]:
    parent: dict[str, Any] = {"name": gw}
    if gw_ns is not None:
        parent["namespace"] = gw_ns
    entry: dict[str, Any] = {"name": "web", "protocol": "HTTP", "port": 80}
    if origin != "Same":
        entry["allowedRoutes"] = {"namespaces": {"from": origin, "selector": {"matchLabels": {"a": "b"}}}}
    return {"kind": "ListenerSet", "metadata": {"namespace": ns, "name": name},
            "spec": {"parentRef": parent, "listeners": [entry]}}  # fmt: skip


def allowing_gateway(ns: str, name: str, origin: str) -> dict[str, Any]:
    found = gateway(ns, name)
    found["spec"]["allowedListeners"] = {
        "namespaces": {"from": origin, "selector": {"matchLabels": {"a": "b"}}}
    }
    return found


@pytest.fixture
def ls_index() -> RouteIndex:
    """team/ls on infra/gw; app/web names team/ls, app/rpc names team/ls and infra/gw; team/own names ls."""
    idx = RouteIndex()
    idx.update_listener_set(listener_set("team", "ls", "infra", "gw"), False)
    idx.update_route("HTTPRoute", route("HTTPRoute", "app", "web", ls_ref("ls", "team")), False)
    idx.update_route("GRPCRoute", route("GRPCRoute", "app", "rpc", ls_ref("ls", "team"),
                                        {"name": "gw", "namespace": "infra"}), False)  # fmt: skip
    idx.update_route("HTTPRoute", route("HTTPRoute", "team", "own", ls_ref("ls")), False)
    return idx


def test_a_listener_set_event_maps_to_the_routes_naming_it(ls_index: RouteIndex) -> None:
    services = ServiceIndex()
    got = affected("ListenerSet", listener_set("team", "ls", "infra", "gw"), services, ls_index)
    assert refs(*got) == [
        ("GRPCRoute", "app", "rpc"),
        ("HTTPRoute", "app", "web"),
        ("HTTPRoute", "team", "own"),
    ]
    assert affected("ListenerSet", listener_set("app", "ls", "infra", "gw"), services, ls_index) == []
    assert affected("ListenerSet", listener_set("team", "ls", "infra", "gw"), services, None) == []


def test_a_gateway_event_maps_also_to_the_routes_of_its_listener_sets(ls_index: RouteIndex) -> None:
    services = ServiceIndex()
    got = affected("Gateway", gateway("infra", "gw"), services, ls_index)
    assert refs(*got) == [
        ("GRPCRoute", "app", "rpc"),
        ("HTTPRoute", "app", "web"),
        ("HTTPRoute", "team", "own"),
    ]
    # the ListenerSet moves to another Gateway (its parentRef's namespace defaults to its own)
    ls_index.update_listener_set(listener_set("team", "ls", None, "local"), False)
    assert refs(*affected("Gateway", gateway("infra", "gw"), services, ls_index)) == [
        ("GRPCRoute", "app", "rpc")
    ]
    assert refs(*affected("Gateway", gateway("team", "local"), services, ls_index)) == [
        ("GRPCRoute", "app", "rpc"), ("HTTPRoute", "app", "web"), ("HTTPRoute", "team", "own")
    ]  # fmt: skip
    # deleted: its Gateway no longer reaches the routes through it; the routes still name it
    ls_index.update_listener_set(listener_set("team", "ls", None, "local"), True)
    assert affected("Gateway", gateway("team", "local"), services, ls_index) == []
    assert len(affected("ListenerSet", listener_set("team", "ls", None, "local"), services, ls_index)) == 3
    # a route that drops the ListenerSet is no longer mapped
    ls_index.update_route("HTTPRoute", route("HTTPRoute", "app", "web"), False)
    ls_index.update_route("HTTPRoute", route("HTTPRoute", "team", "own", ls_ref("ls")), True)
    assert refs(*ls_index.routes_of_listener_set("team", "ls")) == [("GRPCRoute", "app", "rpc")]


def test_a_namespace_event_maps_to_routes_its_labels_admit_through_listener_sets(
    ls_index: RouteIndex,
) -> None:
    services = ServiceIndex()
    assert affected("Namespace", namespace("app"), services, ls_index) == []
    assert affected("Namespace", namespace("team"), services, ls_index) == []
    # a ListenerSet listener admitting routes by label: the routes' own namespaces matter
    ls_index.update_listener_set(listener_set("team", "ls", "infra", "gw", "Selector"), False)
    assert refs(*affected("Namespace", namespace("app"), services, ls_index)) == [
        ("GRPCRoute", "app", "rpc"), ("HTTPRoute", "app", "web")
    ]  # fmt: skip
    assert refs(*affected("Namespace", namespace("team"), services, ls_index)) == [
        ("HTTPRoute", "team", "own")
    ]
    ls_index.update_listener_set(listener_set("team", "ls", "infra", "gw"), False)
    assert affected("Namespace", namespace("app"), services, ls_index) == []
    # a Gateway admitting ListenerSets by label: the ListenerSets' namespaces matter
    ls_index.update_gateway(allowing_gateway("infra", "gw", "Selector"), False)
    assert refs(*affected("Namespace", namespace("team"), services, ls_index)) == [
        ("GRPCRoute", "app", "rpc"), ("HTTPRoute", "app", "web"), ("HTTPRoute", "team", "own")
    ]  # fmt: skip
    assert affected("Namespace", namespace("app"), services, ls_index) == []
    ls_index.update_gateway(allowing_gateway("infra", "gw", "All"), False)
    assert affected("Namespace", namespace("team"), services, ls_index) == []
