"""The Gateway API route sources: route hostnames on the listeners that accepted them, at the Gateway."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extdns.sources.cluster import Cluster
from extdns.sources.config import SourceConfig
from extdns.sources.endpoint_builder import ObjectResult, RecordBuilder
from extdns.sources.gateway_hosts import matching_host, protocol_matches
from extdns.sources.gateway_parents import (
    ACCEPTED,
    GATEWAY_GROUP,
    GATEWAY_KIND,
    LISTENER_SET_KIND,
    Parent,
    condition_true,
    find_parent,
    namespace_selected,
    parent_key,
)
from extdns.sources.gateway_route_hosts import route_hosts
from extdns.sources.objects import KubeObject, ObjectRef, list_at, map_at, namespace_of, str_at
from extdns.sources.scope import in_scope

__all__ = [
    "ROUTE_KINDS",
    "ROUTE_PROTOCOLS",
    "listener_set_gateway",
    "route_endpoints",
    "route_gateways",
    "route_listener_sets",
]

# The protocol each route kind speaks, as matched against listener protocols.
ROUTE_PROTOCOLS = {
    "HTTPRoute": "HTTP",
    "GRPCRoute": "HTTPS",
    "TLSRoute": "TLS",
    "TCPRoute": "TCP",
    "UDPRoute": "UDP",
}
ROUTE_KINDS = tuple(ROUTE_PROTOCOLS)


def route_gateways(route: KubeObject) -> list[tuple[str, str]]:
    """(namespace, name) of each Gateway the route's `spec.parentRefs` name, in order, without repeats."""
    return _parents_of_kind(route, GATEWAY_KIND)


def route_listener_sets(route: KubeObject) -> list[tuple[str, str]]:
    """(namespace, name) of each ListenerSet the route's `spec.parentRefs` name (--gateway-listener-sets)."""
    return _parents_of_kind(route, LISTENER_SET_KIND)


def listener_set_gateway(listener_set: KubeObject) -> tuple[str, str]:
    """(namespace, name) of the Gateway a ListenerSet's `spec.parentRef` names."""
    ref = map_at(listener_set, "spec", "parentRef")
    return str_at(ref, "namespace") or namespace_of(listener_set), str_at(ref, "name")


def _parents_of_kind(route: KubeObject, wanted: str) -> list[tuple[str, str]]:
    found: dict[tuple[str, str], None] = {}
    for ref in list_at(route, "spec", "parentRefs"):
        group, kind, namespace, name = parent_key(ref, namespace_of(route))
        if group == GATEWAY_GROUP and kind == wanted and name:
            found[namespace, name] = None
    return list(found)


def route_endpoints(kind: str, route: KubeObject, cluster: Cluster, cfg: SourceConfig) -> ObjectResult:
    """The endpoints one route of `kind` (one of ROUTE_KINDS) claims (unmerged), and what was rejected."""
    result = ObjectResult()
    if not in_scope(route, cfg):
        return result
    builder = RecordBuilder(ObjectRef.of(kind, route), route, cfg, result)
    hosts = route_hosts(kind, route, builder)
    spec_refs = {parent_key(ref, namespace_of(route)) for ref in list_at(route, "spec", "parentRefs")}
    targets_by_host: dict[str, list[str]] = {}
    for status in list_at(route, "status", "parents") if spec_refs else []:
        ref = map_at(status, "parentRef")
        key = parent_key(ref, namespace_of(route))
        parent = _accepted_parent(key, spec_refs, list_at(status, "conditions"), cluster, cfg)
        if parent is None:
            continue
        for listener in parent.sections.get(str_at(ref, "sectionName"), ()):
            if _attaches(kind, route, ref, listener, parent, cluster):
                for host in _hosts_on(listener, hosts):
                    targets_by_host.setdefault(host, []).extend(parent.targets())
    result.endpoints = [
        endpoint for host, targets in targets_by_host.items() for endpoint in builder.endpoints(host, targets)
    ]
    return result


def _accepted_parent(
    key: tuple[str, str, str, str],
    spec_refs: set[tuple[str, str, str, str]],
    conditions: list[Any],
    cluster: Cluster,
    cfg: SourceConfig,
) -> Parent | None:
    """The parent of one `status.parents[]` entry: named in the spec, ours, visible, Accepted, attached."""
    group, kind, namespace, name = key
    if key not in spec_refs or group != GATEWAY_GROUP:
        return None
    parent = find_parent(kind, namespace, name, cluster, cfg)
    if parent is None or (cfg.gateway_name and parent.gateway_name != cfg.gateway_name):
        return None
    if not condition_true(conditions, ACCEPTED) or not parent.attached:
        return None
    return parent


def _attaches(
    kind: str,
    route: KubeObject,
    ref: Mapping[str, Any],
    listener: Mapping[str, Any],
    parent: Parent,
    cluster: Cluster,
) -> bool:
    """Protocol, the parentRef's port (if any) and the listener's `allowedRoutes` let the route attach."""
    if not protocol_matches(ROUTE_PROTOCOLS[kind], str_at(listener, "protocol")):
        return False
    port = ref.get("port")
    if port is not None and port != listener.get("port"):
        return False
    return _allowed(kind, route, map_at(listener, "allowedRoutes"), parent.owner_namespace, cluster)


def _allowed(
    kind: str, route: KubeObject, allowed: Mapping[str, Any], owner_namespace: str, cluster: Cluster
) -> bool:
    """`allowedRoutes.namespaces.from` (Same by default, All, Selector) and `allowedRoutes.kinds`."""
    namespaces = map_at(allowed, "namespaces")
    origin = str_at(namespaces, "from") or "Same"
    if origin == "Same":
        admitted = owner_namespace == namespace_of(route)
    elif origin == "Selector":
        admitted = namespace_selected(namespaces.get("selector"), namespace_of(route), cluster)
    else:
        admitted = origin == "All"
    kinds = [(str_at(k, "group") or GATEWAY_GROUP, str_at(k, "kind")) for k in list_at(allowed, "kinds")]
    return admitted and (not kinds or (GATEWAY_GROUP, kind) in kinds)


def _hosts_on(listener: Mapping[str, Any], hosts: list[str]) -> list[str]:
    """The route's hosts as the listener's hostname narrows them; "" (no hostname) takes the listener's."""
    listener_host = str_at(listener, "hostname")
    found: list[str] = []
    for host in hosts:
        if listener_host or host:
            matched = matching_host(listener_host, host)
            if matched is not None:
                found.append(matched)
    return found
