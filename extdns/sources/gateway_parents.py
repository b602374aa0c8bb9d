"""What a route can attach to: a Gateway (or a ListenerSet on one), its listeners by section, its targets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from extdns.sources.annotations import AnnotationReader
from extdns.sources.cluster import Cluster
from extdns.sources.config import SourceConfig
from extdns.sources.label_selector import selector_of
from extdns.sources.objects import (
    KubeObject,
    annotations_of,
    labels_of,
    list_at,
    map_at,
    name_of,
    namespace_of,
    str_at,
)

__all__ = [
    "GATEWAY_GROUP",
    "GATEWAY_KIND",
    "LISTENER_SET_KIND",
    "Parent",
    "condition_true",
    "find_parent",
    "namespace_selected",
    "parent_key",
]

GATEWAY_GROUP = "gateway.networking.k8s.io"
GATEWAY_KIND = "Gateway"
LISTENER_SET_KIND = "ListenerSet"
ACCEPTED = "Accepted"
Listeners = tuple[Mapping[str, Any], ...]


def parent_key(ref: Any, route_namespace: str) -> tuple[str, str, str, str]:
    """(group, kind, namespace, name) of a parentRef, with Gateway API's defaults filled in."""
    return (
        str_at(ref, "group") or GATEWAY_GROUP,
        str_at(ref, "kind") or GATEWAY_KIND,
        str_at(ref, "namespace") or route_namespace,
        str_at(ref, "name"),
    )


def condition_true(conditions: list[Any], kind: str) -> bool:
    """Whether the first condition of that type has status True."""
    found = next((c for c in conditions if str_at(c, "type") == kind), None)
    return found is not None and str_at(found, "status") == "True"


@dataclass(frozen=True)
class Parent:
    """A Gateway or ListenerSet as routes see it: listeners by section name ("": all), targets.

    Only attached listeners are kept (a ListenerSet's listeners need their own Accepted status).
    `overrides` are the `target` annotation's targets, replacing the Gateway's status addresses.
    """

    gateway: KubeObject
    owner_namespace: str
    sections: Mapping[str, Listeners]
    overrides: tuple[str, ...] = ()
    attached: bool = True

    @property
    def gateway_name(self) -> str:
        return name_of(self.gateway)

    def targets(self) -> list[str]:
        """The `target` annotation's targets, else every `status.addresses[].value`."""
        if self.overrides:
            return list(self.overrides)
        return [str_at(address, "value") for address in list_at(self.gateway, "status", "addresses")]


def _sections(listeners: list[tuple[Mapping[str, Any], bool]]) -> dict[str, Listeners]:
    """Attached listeners by section name, and all of them under ""."""
    sections: dict[str, Listeners] = {
        str_at(listener, "name"): (listener,) if attached else () for listener, attached in listeners
    }
    sections[""] = tuple(listener for listener, attached in listeners if attached)
    return sections


def find_parent(kind: str, namespace: str, name: str, cluster: Cluster, cfg: SourceConfig) -> Parent | None:
    """The Gateway or ListenerSet a route's parentRef names, as the gateway flags let us see it; else None."""
    if kind == GATEWAY_KIND:
        gateway = _visible_gateway(namespace, name, cluster, cfg)
        return None if gateway is None else _gateway_parent(gateway, cfg)
    if kind == LISTENER_SET_KIND and cfg.gateway_listener_sets:
        listener_set = cluster.find(LISTENER_SET_KIND, namespace, name)
        return None if listener_set is None else _listener_set_parent(listener_set, cluster, cfg)
    return None


def _visible_gateway(namespace: str, name: str, cluster: Cluster, cfg: SourceConfig) -> KubeObject | None:
    """The Gateway unless --gateway-namespace or --gateway-label-filter hide it."""
    if cfg.gateway_namespace and namespace != cfg.gateway_namespace:
        return None
    gateway = cluster.gateway(namespace, name)
    if gateway is None or not cfg.gateway_label_selector.matches(labels_of(gateway)):
        return None
    return gateway


def _targets_annotation(obj: KubeObject, cfg: SourceConfig) -> tuple[str, ...]:
    return tuple(AnnotationReader(annotations_of(obj), cfg.annotation_prefix).targets())


def _listeners(obj: KubeObject) -> list[Mapping[str, Any]]:
    return [listener for listener in list_at(obj, "spec", "listeners") if isinstance(listener, Mapping)]


def _gateway_parent(gateway: KubeObject, cfg: SourceConfig) -> Parent:
    listeners = [(listener, True) for listener in _listeners(gateway)]
    return Parent(gateway, namespace_of(gateway), _sections(listeners), _targets_annotation(gateway, cfg))


def _listener_set_parent(listener_set: KubeObject, cluster: Cluster, cfg: SourceConfig) -> Parent | None:
    """A ListenerSet on its parent Gateway: attached when the Gateway allows it and it was accepted."""
    ref = map_at(listener_set, "spec", "parentRef")
    gateway_namespace = str_at(ref, "namespace") or namespace_of(listener_set)
    gateway = _visible_gateway(gateway_namespace, str_at(ref, "name"), cluster, cfg)
    if gateway is None:
        return None
    attached = _gateway_allows(gateway, listener_set, cluster) and condition_true(
        list_at(listener_set, "status", "conditions"), ACCEPTED
    )
    statuses = {
        str_at(status, "name"): list_at(status, "conditions")
        for status in list_at(listener_set, "status", "listeners")
    }
    listeners = [
        (entry, attached and condition_true(statuses.get(str_at(entry, "name"), []), ACCEPTED))
        for entry in _listeners(listener_set)
    ]
    overrides = _targets_annotation(listener_set, cfg) or _targets_annotation(gateway, cfg)
    return Parent(gateway, namespace_of(listener_set), _sections(listeners), overrides, attached)


def _gateway_allows(gateway: KubeObject, listener_set: KubeObject, cluster: Cluster) -> bool:
    """`spec.allowedListeners.namespaces` of the Gateway (default None) admits the ListenerSet's namespace."""
    namespaces = map_at(gateway, "spec", "allowedListeners", "namespaces")
    origin = str_at(namespaces, "from") or "None"
    if origin == "All":
        return True
    if origin == "Same":
        return namespace_of(gateway) == namespace_of(listener_set)
    if origin == "Selector":
        return namespace_selected(namespaces.get("selector"), namespace_of(listener_set), cluster)
    return False


def namespace_selected(selector: Any, namespace: str, cluster: Cluster) -> bool:
    """Whether the Namespace object's labels match a LabelSelector (no such Namespace: no)."""
    parsed = selector_of(selector)
    found = cluster.namespace(namespace)
    return parsed is not None and found is not None and parsed.matches(labels_of(found))
