"""Object references as the controller spells them (`Kind/namespace/name`), and snapshots of objects."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from extdns.sources import Cluster, ObjectRef


def ref_key(ref: ObjectRef) -> str:
    """`Kind/namespace/name`: how a reference is spelled in messages and in the claims index."""
    return f"{ref.kind}/{ref.namespace}/{ref.name}"


def parse_ref(key: str) -> ObjectRef:
    kind, namespace, name = key.split("/", 2)
    return ObjectRef(kind, namespace, name)


def bare(ref: ObjectRef) -> ObjectRef:
    """The reference without its uid, for use as a key."""
    return ObjectRef(ref.kind, ref.namespace, ref.name)


def snapshot(objects: Iterable[dict[str, Any]]) -> Cluster:
    """A Cluster of the objects, each (kind, namespace, name) once."""
    unique = {
        (o["kind"], (o.get("metadata") or {}).get("namespace", ""), o["metadata"]["name"]): o for o in objects
    }
    return Cluster.from_objects(unique.values())
