"""The Endpoint model: one DNS record set (name, type, targets) with its ownership labels."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TypeVar, overload

from extdns.addresses import canonical_address

# Label keys, as ExternalDNS names them (endpoint/labels.go).
OWNER_LABEL = "owner"
RESOURCE_LABEL = "resource"
OWNED_RECORD_LABEL = "ownedRecord"

# Provider-specific property keys.
GROUP_PROPERTY = "coredns/group"
FORCE_UPDATE_PROPERTY = "txt/force-update"

RECORD_TYPES = frozenset({"A", "AAAA", "CNAME", "TXT", "SRV", "MX", "NS", "PTR"})
ADDRESS_TYPES = frozenset({"A", "AAAA"})
DEFAULT_MANAGED_TYPES = frozenset({"A", "AAAA", "CNAME"})
_T = TypeVar("_T")


class StrMap(Mapping[str, str]):
    """An immutable, hashable str->str mapping (labels, provider-specific properties)."""

    __slots__ = ("_dict", "_items")

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        as_dict = dict(items)
        self._dict = as_dict
        self._items = tuple(sorted(as_dict.items()))

    def __getitem__(self, key: str) -> str:
        return self._dict[key]

    @overload
    def get(self, key: str, /) -> str | None: ...
    @overload
    def get(self, key: str, /, default: str | _T) -> str | _T: ...
    def get(self, key: str, /, default: object = None) -> object:
        return self._dict.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._dict

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StrMap):
            return self._items == other._items
        return isinstance(other, Mapping) and self._dict == dict(other.items())

    def __repr__(self) -> str:
        return f"StrMap({self._dict!r})"

    def merged(self, **updates: str) -> StrMap:
        """Return a copy with the given keys set."""
        return StrMap({**self._dict, **updates})


EMPTY_MAP = StrMap()


def as_strmap(mapping: Mapping[str, str]) -> StrMap:
    """Return mapping as a StrMap, itself when it already is one (StrMaps are immutable)."""
    return mapping if isinstance(mapping, StrMap) else StrMap(mapping)


def canonical_target(record_type: str, target: str) -> str:
    """Return the form in which a target is stored and compared.

    IPs in canonical text (IPv6 compressed lower-case), names lower-case without a trailing dot,
    TXT verbatim.
    """
    if record_type == "TXT":
        return target
    if record_type in ADDRESS_TYPES:
        return canonical_address(target)
    return target.lower().removesuffix(".")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One record set. Targets are kept canonical, sorted and de-duplicated; ttl 0 means not configured."""

    dns_name: str
    record_type: str
    targets: tuple[str, ...]
    ttl: int = 0
    set_identifier: str = ""
    labels: Mapping[str, str] = EMPTY_MAP
    provider_specific: Mapping[str, str] = EMPTY_MAP

    def __post_init__(self) -> None:
        canonical = {canonical_target(self.record_type, target) for target in self.targets}
        object.__setattr__(self, "targets", tuple(sorted(canonical)))
        object.__setattr__(self, "labels", as_strmap(self.labels))
        object.__setattr__(self, "provider_specific", as_strmap(self.provider_specific))

    @property
    def owner(self) -> str:
        return self.labels.get(OWNER_LABEL, "")

    @property
    def resource(self) -> str:
        return self.labels.get(RESOURCE_LABEL, "")

    @property
    def group(self) -> str:
        return self.provider_specific.get(GROUP_PROPERTY, "")

    def with_labels(self, **labels: str) -> Endpoint:
        """Return a copy with the given labels set."""
        return replace(self, labels={**self.labels, **labels})
