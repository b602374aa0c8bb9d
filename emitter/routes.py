"""What the emitter remembers of routes and Gateways, to map Gateway and Namespace events to routes.

A route's records depend on its parent Gateways (their listeners and status addresses) and, when a
listener admits routes by a namespace label selector (`allowedRoutes.namespaces.from: Selector`), on
the labels of the route's own Namespace. So a Gateway event concerns every route naming it as a
parent, and a Namespace event the routes in that namespace attached to a Gateway that selects by label.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from adapters.kube_api import KubeObject
from adapters.kube_cluster import selects_namespaces
from controller.refs import ref_key
from extdns.sources import ObjectRef
from extdns.sources.gateway import route_gateways

GatewayKey = tuple[str, str]  # (namespace, name)


def _key(obj: KubeObject) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace", "")), str(meta.get("name", ""))


@dataclass
class RouteIndex:
    """Route -> parent Gateways, Gateway -> routes, and the Gateways whose listeners select namespaces."""

    parents: dict[ObjectRef, frozenset[GatewayKey]] = field(default_factory=dict)
    routes: dict[GatewayKey, set[ObjectRef]] = field(default_factory=dict)
    selecting: set[GatewayKey] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def update_route(self, kind: str, route: KubeObject, deleted: bool) -> None:
        ns, name = _key(route)
        ref = ObjectRef(kind, ns, name)
        wanted = frozenset() if deleted else frozenset(route_gateways(route))
        with self.lock:
            for gw in self.parents.pop(ref, frozenset()) - wanted:
                members = self.routes.get(gw)
                if members is not None:
                    members.discard(ref)
                    if not members:
                        del self.routes[gw]
            if wanted:
                self.parents[ref] = wanted
                for gw in wanted:
                    self.routes.setdefault(gw, set()).add(ref)

    def update_gateway(self, gateway: KubeObject, deleted: bool) -> None:
        key = _key(gateway)
        with self.lock:
            if not deleted and selects_namespaces(gateway):
                self.selecting.add(key)
            else:
                self.selecting.discard(key)

    def routes_of_gateway(self, namespace: str, name: str) -> list[ObjectRef]:
        """The routes naming this Gateway as a parent."""
        with self.lock:
            return sorted(self.routes.get((namespace, name), ()), key=ref_key)

    def routes_of_namespace(self, namespace: str) -> list[ObjectRef]:
        """The routes in this namespace attached to a Gateway that admits routes by namespace labels."""
        with self.lock:
            return sorted(
                (
                    ref
                    for ref, gateways in self.parents.items()
                    if ref.namespace == namespace and gateways & self.selecting
                ),
                key=ref_key,
            )
