"""Cluster: a snapshot of the objects the sources read (Services, Ingresses, EndpointSlices, Pods, Nodes)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

from extdns.sources.objects import KubeObject, labels_of, name_of, namespace_of, str_at

__all__ = ["KINDS", "SERVICE_NAME_LABEL", "Cluster", "World"]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
KINDS = ("Service", "Ingress", "EndpointSlice", "Pod", "Node")


@dataclass(frozen=True)
class Cluster:
    """The objects as plain JSON-shaped dicts; lookups are indexed on first use."""

    services: tuple[KubeObject, ...] = ()
    ingresses: tuple[KubeObject, ...] = ()
    endpoint_slices: tuple[KubeObject, ...] = ()
    pods: tuple[KubeObject, ...] = ()
    nodes: tuple[KubeObject, ...] = ()

    @classmethod
    def from_objects(cls, objects: Iterable[KubeObject]) -> Cluster:
        """Sort objects into the snapshot by `kind`; other kinds are ignored."""
        by_kind: dict[str, list[KubeObject]] = {kind: [] for kind in KINDS}
        for obj in objects:
            found = by_kind.get(str_at(obj, "kind"))
            if found is not None:
                found.append(obj)
        return cls(*(tuple(by_kind[kind]) for kind in KINDS))

    def objects(self, kind: str) -> tuple[KubeObject, ...]:
        """The objects of one Kind (`Service`, ...), case-insensitively."""
        fields = dict(zip((k.lower() for k in KINDS), self._fields(), strict=True))
        found = fields.get(kind.lower())
        if found is None:
            raise ValueError(f"unknown kind {kind!r} (one of {', '.join(KINDS)})")
        return found

    def _fields(self) -> tuple[tuple[KubeObject, ...], ...]:
        return (self.services, self.ingresses, self.endpoint_slices, self.pods, self.nodes)

    def find(self, kind: str, namespace: str, name: str) -> KubeObject | None:
        """One object by Kind, namespace and name."""
        return next(
            (o for o in self.objects(kind) if name_of(o) == name and namespace_of(o) == namespace), None
        )

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


World = Cluster
