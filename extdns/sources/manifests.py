"""Parsing Kubernetes manifests (multi-document YAML, JSON, `kind: List`) into object dicts, without I/O."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

__all__ = ["NAMESPACED_KINDS", "ManifestError", "load_manifests"]

NAMESPACED_KINDS = frozenset(
    {"Service", "Ingress", "EndpointSlice", "Pod", "Gateway", "ListenerSet", "DNSEndpoint"}
    | {"HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute"}
)


class ManifestError(ValueError):
    """Input that is not Kubernetes YAML or JSON; the message is one line naming where."""


def load_manifests(text: str, origin: str = "<input>") -> list[dict[str, Any]]:
    """Every object in the text: lists flattened, a namespaced kind's missing namespace set to `default`."""
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise ManifestError(f"{origin}: not valid YAML or JSON: {_one_line(exc)}") from exc
    objects: list[dict[str, Any]] = []
    for number, document in enumerate(documents, start=1):
        if document is not None:
            objects += _objects(document, f"{origin}: document {number}")
    return objects


def _objects(document: Any, where: str, kind_hint: str = "") -> list[dict[str, Any]]:
    if not isinstance(document, Mapping):
        raise ManifestError(f"{where}: expected a Kubernetes object, got {type(document).__name__}")
    obj = dict(document)
    kind = obj.get("kind") or kind_hint
    if not isinstance(kind, str) or not kind:
        raise ManifestError(f"{where}: object has no kind")
    if kind.endswith("List") and "items" in obj:
        items = obj.get("items") or []
        if not isinstance(items, list):
            raise ManifestError(f"{where}: {kind}.items is not a list")
        item_kind = kind.removesuffix("List")
        return [
            found for i, item in enumerate(items) for found in _objects(item, f"{where} item {i}", item_kind)
        ]
    obj["kind"] = kind
    if kind in NAMESPACED_KINDS:
        metadata = obj.get("metadata")
        metadata = dict(metadata) if isinstance(metadata, Mapping) else {}
        if not metadata.get("namespace"):
            metadata["namespace"] = "default"
        obj["metadata"] = metadata
    return [obj]


def _one_line(exc: yaml.YAMLError) -> str:
    return " ".join(str(exc).split())
