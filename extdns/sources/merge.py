"""Merging endpoints of several objects of one source as ExternalDNS does, keeping the TXT owner stable."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import replace

from extdns.endpoint import Endpoint

__all__ = ["dedupe_endpoints", "merge_endpoints"]

# Record types that hold one target: endpoints of these types unite only with the same target.
_SINGLE_TARGET_TYPES = frozenset({"CNAME", "DNAME"})


def merge_endpoints(endpoints: Iterable[Endpoint], across_ttls: bool = False) -> list[Endpoint]:
    """Union the targets of endpoints that ExternalDNS merges, keeping the first object's labels.

    Endpoints are taken in (name, resource label) order, so a merged endpoint keeps the resource
    label, TTL and properties of the lexicographically first object. Endpoints merge when they
    share name, type, set identifier and TTL; a CNAME only with the same target. With `across_ttls`
    (the service source does this), endpoints are first united on name, type and set identifier alone
    (CNAMEs apart), so their TTLs do not keep them apart. What stays apart for one name and type is
    left to the planner's conflict resolution.
    """
    ordered = sorted(endpoints, key=lambda e: (e.dns_name, e.resource))
    if across_ttls:
        ordered = _union(ordered, _name_key)
    return dedupe_endpoints(_union(ordered, _merge_key))


def _name_key(endpoint: Endpoint) -> Hashable | None:
    """Name, type and set identifier; None (not united) for CNAMEs."""
    if endpoint.record_type == "CNAME":
        return None
    return (endpoint.dns_name, endpoint.record_type, endpoint.set_identifier)


def _merge_key(endpoint: Endpoint) -> Hashable:
    """Name, type, set identifier and TTL, plus the target for single-target types."""
    target = endpoint.targets[0] if endpoint.record_type in _SINGLE_TARGET_TYPES and endpoint.targets else ""
    return (endpoint.dns_name, endpoint.record_type, endpoint.set_identifier, endpoint.ttl, target)


def _union(endpoints: Iterable[Endpoint], key_of: Callable[[Endpoint], Hashable | None]) -> list[Endpoint]:
    """Fold endpoints of equal key (None: never) into the first one, in order of first appearance."""
    merged: list[Endpoint] = []
    position: dict[Hashable, int] = {}
    for endpoint in endpoints:
        key = key_of(endpoint)
        if key is None or key not in position:
            if key is not None:
                position[key] = len(merged)
            merged.append(endpoint)
            continue
        first = merged[position[key]]
        merged[position[key]] = replace(first, targets=first.targets + endpoint.targets)
    return merged


def dedupe_endpoints(endpoints: Iterable[Endpoint]) -> list[Endpoint]:
    """Drop exact repeats of (name, type, set identifier, targets), keeping the first."""
    seen: set[tuple[str, str, str, tuple[str, ...]]] = set()
    unique: list[Endpoint] = []
    for endpoint in endpoints:
        key = (endpoint.dns_name, endpoint.record_type, endpoint.set_identifier, endpoint.targets)
        if key not in seen:
            seen.add(key)
            unique.append(endpoint)
    return unique
