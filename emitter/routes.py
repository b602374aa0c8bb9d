"""What the emitter remembers of routes, Gateways and ListenerSets, to map their events to routes.

A route's records depend on its parent Gateways (their listeners and status addresses) and, when a
listener admits routes by a namespace label selector (`allowedRoutes.namespaces.from: Selector`), on
the labels of the route's own Namespace. So a Gateway event concerns every route naming it as a
parent, and a Namespace event the routes in that namespace attached to a Gateway that selects by label.

With --gateway-listener-sets, a route may name ListenerSets as parents too: a ListenerSet event
concerns the routes naming it, and so does an event on its parent Gateway (listeners, addresses,
`allowedListeners`). A Namespace event also concerns the routes in it attached to a ListenerSet whose
listener selects by label, and the routes of the ListenerSets in it whose Gateway admits ListenerSets
by namespace label.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import TypeVar

from adapters.kube_api import KubeObject
from adapters.kube_cluster import admits_listener_sets_by_label, selects_namespaces
from controller.refs import ref_key
from extdns.sources import ObjectRef
from extdns.sources.gateway import listener_set_gateway, route_gateways, route_listener_sets

GatewayKey = tuple[str, str]  # (namespace, name)
ListenerSetKey = tuple[str, str]  # (namespace, name)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V", bound=Hashable)


def _key(obj: KubeObject) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace", "")), str(meta.get("name", ""))


def _relink(forward: dict[K, frozenset[V]], backward: dict[V, set[K]], key: K, wanted: frozenset[V]) -> None:
    """Point `key` at `wanted` in `forward`, keeping the reverse index `backward` (no empty sets left)."""
    for old in forward.pop(key, frozenset()) - wanted:
        members = backward.get(old)
        if members is not None:
            members.discard(key)
            if not members:
                del backward[old]
    if wanted:
        forward[key] = wanted
        for value in wanted:
            backward.setdefault(value, set()).add(key)


@dataclass
class RouteIndex:
    """Route -> parent Gateways and ListenerSets, and back; ListenerSet -> its Gateway, and back.

    Also which Gateways and ListenerSets select namespaces by label.
    """

    parents: dict[ObjectRef, frozenset[GatewayKey]] = field(default_factory=dict)
    routes: dict[GatewayKey, set[ObjectRef]] = field(default_factory=dict)
    selecting: set[GatewayKey] = field(default_factory=set)
    set_parents: dict[ObjectRef, frozenset[ListenerSetKey]] = field(default_factory=dict)
    set_routes: dict[ListenerSetKey, set[ObjectRef]] = field(default_factory=dict)
    set_gateway: dict[ListenerSetKey, frozenset[GatewayKey]] = field(default_factory=dict)
    gateway_sets: dict[GatewayKey, set[ListenerSetKey]] = field(default_factory=dict)
    selecting_sets: set[ListenerSetKey] = field(default_factory=set)  # a listener selects route namespaces
    admitting: set[GatewayKey] = field(default_factory=set)  # admits ListenerSets by namespace label
    lock: threading.Lock = field(default_factory=threading.Lock)

    def update_route(self, kind: str, route: KubeObject, deleted: bool) -> None:
        ns, name = _key(route)
        ref = ObjectRef(kind, ns, name)
        gateways = frozenset() if deleted else frozenset(route_gateways(route))
        sets = frozenset() if deleted else frozenset(route_listener_sets(route))
        with self.lock:
            _relink(self.parents, self.routes, ref, gateways)
            _relink(self.set_parents, self.set_routes, ref, sets)

    def update_gateway(self, gateway: KubeObject, deleted: bool) -> None:
        key = _key(gateway)
        with self.lock:
            for wanted, members in (
                (selects_namespaces(gateway), self.selecting),
                (admits_listener_sets_by_label(gateway), self.admitting),
            ):
                if wanted and not deleted:
                    members.add(key)
                else:
                    members.discard(key)

    def update_listener_set(self, listener_set: KubeObject, deleted: bool) -> None:
        key = _key(listener_set)
        gateway = listener_set_gateway(listener_set)
        wanted = frozenset() if deleted or not gateway[1] else frozenset({gateway})
        with self.lock:
            _relink(self.set_gateway, self.gateway_sets, key, wanted)
            if not deleted and selects_namespaces(listener_set):
                self.selecting_sets.add(key)
            else:
                self.selecting_sets.discard(key)

    def routes_of_gateway(self, namespace: str, name: str) -> list[ObjectRef]:
        """The routes naming this Gateway as a parent, or a ListenerSet on it."""
        with self.lock:
            found = set(self.routes.get((namespace, name), ()))
            for listener_set in self.gateway_sets.get((namespace, name), ()):
                found.update(self.set_routes.get(listener_set, ()))
            return sorted(found, key=ref_key)

    def routes_of_listener_set(self, namespace: str, name: str) -> list[ObjectRef]:
        """The routes naming this ListenerSet as a parent."""
        with self.lock:
            return sorted(self.set_routes.get((namespace, name), ()), key=ref_key)

    def routes_of_namespace(self, namespace: str) -> list[ObjectRef]:
        """The routes whose admission may depend on this Namespace's labels.

        Those in it attached to a Gateway or ListenerSet that admits routes by namespace labels, and
        those attached to a ListenerSet in it whose Gateway admits ListenerSets by namespace labels.
        """
        with self.lock:
            found = {
                ref
                for ref, gws in self.parents.items()
                if ref.namespace == namespace and gws & self.selecting
            }
            found.update(
                ref
                for ref, sets in self.set_parents.items()
                if ref.namespace == namespace and sets & self.selecting_sets
            )
            for listener_set, gateways in self.set_gateway.items():
                if listener_set[0] == namespace and gateways & self.admitting:
                    found.update(self.set_routes.get(listener_set, ()))
            return sorted(found, key=ref_key)
