"""Safe accessors over Kubernetes objects given as JSON-shaped dicts, and the reference naming one object."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "KubeObject",
    "ObjectRef",
    "Rejection",
    "annotations_of",
    "as_str",
    "labels_of",
    "list_at",
    "map_at",
    "name_of",
    "namespace_of",
    "str_at",
]

KubeObject = Mapping[str, Any]
# The `resource` label's first part where ExternalDNS does not use the lower-cased Kind.
_RESOURCE_PREFIX = {"DNSEndpoint": "crd"}


@dataclass(frozen=True)
class ObjectRef:
    """Which object: its Kind (`Service`, `HTTPRoute`, ...), namespace, name and uid (for Events)."""

    kind: str
    namespace: str
    name: str
    uid: str = ""

    @classmethod
    def of(cls, kind: str, obj: KubeObject) -> ObjectRef:
        return cls(kind, namespace_of(obj), name_of(obj), str_at(obj, "metadata", "uid"))

    @property
    def resource(self) -> str:
        """The ExternalDNS `resource` label: `service/<ns>/<name>`, `httproute/...`, `crd/<ns>/<name>`."""
        prefix = _RESOURCE_PREFIX.get(self.kind) or self.kind.lower()
        return f"{prefix}/{self.namespace}/{self.name}"

    def __str__(self) -> str:
        return self.resource


@dataclass(frozen=True)
class Rejection:
    """A problem found in one object: what was skipped and why; the object's other records still count.

    `rule` names the zone-guard rule that refused a name (`reserved`, `namespace`); empty for bad input.
    """

    ref: ObjectRef
    reason: str
    rule: str = ""

    @property
    def kind(self) -> str:
        return self.ref.kind

    @property
    def namespace(self) -> str:
        return self.ref.namespace

    @property
    def name(self) -> str:
        return self.ref.name

    @property
    def subject(self) -> str:
        """`kind/namespace/name` in the resource-label form, e.g. `service/default/web`."""
        return self.ref.resource

    def __str__(self) -> str:
        return f"{self.subject}: {self.reason}"


def as_str(value: Any) -> str | None:
    """A string value; integers (unquoted YAML numbers) are taken as their text; anything else is None."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _at(obj: Any, path: Sequence[str]) -> Any:
    for key in path:
        if type(obj) is not dict and not isinstance(obj, Mapping):  # plain dicts skip the ABC check
            return None
        obj = obj.get(key)
    return obj


def str_at(obj: Any, *path: str) -> str:
    """The string at `path`, or "" when absent or not a string."""
    return as_str(_at(obj, path)) or ""


def map_at(obj: Any, *path: str) -> Mapping[str, Any]:
    """The mapping at `path`, or an empty one."""
    found = _at(obj, path)
    return found if type(found) is dict or isinstance(found, Mapping) else {}


def list_at(obj: Any, *path: str) -> list[Any]:
    """The list at `path`, or an empty one."""
    found = _at(obj, path)
    return list(found) if isinstance(found, list | tuple) else []


def name_of(obj: KubeObject) -> str:
    return str_at(obj, "metadata", "name")


def namespace_of(obj: KubeObject) -> str:
    return str_at(obj, "metadata", "namespace")


def _string_map(found: Mapping[str, Any]) -> dict[str, str]:
    pairs = ((key, as_str(value)) for key, value in found.items())
    return {str(key): value for key, value in pairs if value is not None}


def labels_of(obj: KubeObject) -> dict[str, str]:
    return _string_map(map_at(obj, "metadata", "labels"))


def annotations_of(obj: KubeObject) -> dict[str, str]:
    return _string_map(map_at(obj, "metadata", "annotations"))
