"""Cluster: a snapshot of the objects the sources read (Services, Ingresses, Gateway API objects, ...)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

from extdns.sources.objects import KubeObject, labels_of, name_of, namespace_of, str_at

__all__ = ["KINDS", "KIND_GROUPS", "SERVICE_NAME_LABEL", "Cluster", "World"]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
GATEWAY_GROUP = "gateway.networking.k8s.io"
# Kind -> the Cluster field holding its objects.
_FIELD_OF_KIND = {
    "Service": "services",
    "Ingress": "ingresses",
    "EndpointSlice": "endpoint_slices",
    "Pod": "pods",
    "Node": "nodes",
    "Gateway": "gateways",
    "Namespace": "namespaces",
    "ListenerSet": "listener_sets",
    "HTTPRoute": "http_routes",
    "GRPCRoute": "grpc_routes",
    "TLSRoute": "tls_routes",
    "TCPRoute": "tcp_routes",
    "UDPRoute": "udp_routes",
    "DNSEndpoint": "dns_endpoints",
}
KINDS = tuple(_FIELD_OF_KIND)
# API groups of kinds whose name another API also uses (Istio has a `Gateway` too): an object of
# such a kind with another group in its apiVersion is not one of ours.
KIND_GROUPS = {
    **dict.fromkeys(("Gateway", "ListenerSet", "HTTPRoute", "GRPCRoute", "TLSRoute"), GATEWAY_GROUP),
    **dict.fromkeys(("TCPRoute", "UDPRoute"), GATEWAY_GROUP),
    "DNSEndpoint": "externaldns.k8s.io",
}


def _group_fits(kind: str, obj: KubeObject) -> bool:
    """False when the object's apiVersion names another API group than the kind's (none given: fits)."""
    api_version = str_at(obj, "apiVersion")
    expected = KIND_GROUPS.get(kind)
    if expected is None or not api_version:
        return True
    return api_version.rpartition("/")[0] == expected


@dataclass(frozen=True)
class Cluster:
    """The objects as plain JSON-shaped dicts; lookups are indexed on first use."""

    services: tuple[KubeObject, ...] = ()
    ingresses: tuple[KubeObject, ...] = ()
    endpoint_slices: tuple[KubeObject, ...] = ()
    pods: tuple[KubeObject, ...] = ()
    nodes: tuple[KubeObject, ...] = ()
    gateways: tuple[KubeObject, ...] = ()
    namespaces: tuple[KubeObject, ...] = ()
    listener_sets: tuple[KubeObject, ...] = ()
    http_routes: tuple[KubeObject, ...] = ()
    grpc_routes: tuple[KubeObject, ...] = ()
    tls_routes: tuple[KubeObject, ...] = ()
    tcp_routes: tuple[KubeObject, ...] = ()
    udp_routes: tuple[KubeObject, ...] = ()
    dns_endpoints: tuple[KubeObject, ...] = ()

    @classmethod
    def from_objects(cls, objects: Iterable[KubeObject]) -> Cluster:
        """Sort objects into the snapshot by `kind` (and API group); other kinds are ignored."""
        by_kind: dict[str, list[KubeObject]] = {kind: [] for kind in KINDS}
        for obj in objects:
            kind = str_at(obj, "kind")
            found = by_kind.get(kind)
            if found is not None and _group_fits(kind, obj):
                found.append(obj)
        return cls(**{_FIELD_OF_KIND[kind]: tuple(found) for kind, found in by_kind.items()})

    def objects(self, kind: str) -> tuple[KubeObject, ...]:
        """The objects of one Kind (`Service`, `HTTPRoute`, ...), case-insensitively."""
        field_name = _LOWER_KINDS.get(kind.lower())
        if field_name is None:
            raise ValueError(f"unknown kind {kind!r} (one of {', '.join(KINDS)})")
        found: tuple[KubeObject, ...] = getattr(self, field_name)
        return found

    def find(self, kind: str, namespace: str, name: str) -> KubeObject | None:
        """One object by Kind, namespace and name (indexed per Kind on first use)."""
        index = self._keyed.get(kind.lower())
        if index is None:
            index = {(namespace_of(o), name_of(o)): o for o in reversed(self.objects(kind))}
            self._keyed[kind.lower()] = index
        return index.get((namespace, name))

    @cached_property
    def _keyed(self) -> dict[str, dict[tuple[str, str], KubeObject]]:
        return {}

    def gateway(self, namespace: str, name: str) -> KubeObject | None:
        return self.find("Gateway", namespace, name)

    def namespace(self, name: str) -> KubeObject | None:
        """The Namespace object of that name (the route sources match its labels)."""
        return self.find("Namespace", "", name)

    @cached_property
    def _pods_by_key(self) -> dict[tuple[str, str], KubeObject]:
        return {(namespace_of(pod), name_of(pod)): pod for pod in self.pods}

    @cached_property
    def _pods_by_namespace(self) -> dict[str, list[KubeObject]]:
        index: dict[str, list[KubeObject]] = {}
        for pod in self.pods:
            index.setdefault(namespace_of(pod), []).append(pod)
        return index

    @cached_property
    def _nodes_by_name(self) -> dict[str, KubeObject]:
        return {name_of(node): node for node in self.nodes}

    @cached_property
    def _slices_by_service(self) -> dict[tuple[str, str], list[KubeObject]]:
        index: dict[tuple[str, str], list[KubeObject]] = {}
        for found in self.endpoint_slices:
            service = labels_of(found).get(SERVICE_NAME_LABEL)
            if service:
                index.setdefault((namespace_of(found), service), []).append(found)
        return index

    def pod(self, namespace: str, name: str) -> KubeObject | None:
        return self._pods_by_key.get((namespace, name))

    def node(self, name: str) -> KubeObject | None:
        return self._nodes_by_name.get(name)

    def endpoint_slices_for(self, namespace: str, service: str) -> list[KubeObject]:
        """The EndpointSlices labelled `kubernetes.io/service-name=<service>` in the namespace."""
        return self._slices_by_service.get((namespace, service), [])

    def pods_matching(self, namespace: str, selector: Mapping[str, str]) -> list[KubeObject]:
        """Pods of the namespace whose labels include every selector pair (an empty selector matches all)."""
        wanted = selector.items()
        return [pod for pod in self._pods_by_namespace.get(namespace, []) if wanted <= labels_of(pod).items()]


_LOWER_KINDS = {kind.lower(): field for kind, field in _FIELD_OF_KIND.items()}

World = Cluster
