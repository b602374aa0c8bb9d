"""Merging endpoints of several objects of one source as ExternalDNS does, keeping the TXT owner stable."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from extdns.endpoint import Endpoint

__all__ = ["dedupe_endpoints", "merge_endpoints"]


def merge_endpoints(endpoints: Iterable[Endpoint]) -> list[Endpoint]:
    """Union the targets of same (name, type, set identifier) endpoints; CNAMEs stay separate.

    Endpoints are taken in (name, resource label) order, so the merged endpoint keeps the resource
    label, TTL and properties of the lexicographically first object.
    """
    merged: list[Endpoint] = []
    position: dict[tuple[str, str, str], int] = {}
    for endpoint in sorted(endpoints, key=lambda e: (e.dns_name, e.resource)):
        key = (endpoint.dns_name, endpoint.record_type, endpoint.set_identifier)
        if endpoint.record_type == "CNAME" or key not in position:
            position.setdefault(key, len(merged))
            merged.append(endpoint)
            continue
        first = merged[position[key]]
        merged[position[key]] = replace(first, targets=first.targets + endpoint.targets)
    return dedupe_endpoints(merged)


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
