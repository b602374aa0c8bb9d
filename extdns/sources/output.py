"""Desired endpoints as ExternalDNS's endpoint JSON (`dnsName`, `recordType`, ...) or a readable table."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from extdns.endpoint import Endpoint

__all__ = ["endpoint_to_dict", "endpoints_table", "endpoints_to_json"]


def _ordered(endpoints: Iterable[Endpoint]) -> list[Endpoint]:
    return sorted(endpoints, key=lambda e: (e.dns_name, e.record_type, e.set_identifier, e.resource))


def endpoint_to_dict(endpoint: Endpoint) -> dict[str, Any]:
    """One endpoint under ExternalDNS's field names; `recordTTL` and `setIdentifier` omitted when unset."""
    found: dict[str, Any] = {
        "dnsName": endpoint.dns_name,
        "recordType": endpoint.record_type,
        "targets": sorted(endpoint.targets),
    }
    if endpoint.set_identifier:
        found["setIdentifier"] = endpoint.set_identifier
    if endpoint.ttl:
        found["recordTTL"] = endpoint.ttl
    found["labels"] = dict(endpoint.labels)
    found["providerSpecific"] = [
        {"name": k, "value": v} for k, v in sorted(endpoint.provider_specific.items())
    ]
    return found


def endpoints_to_json(endpoints: Iterable[Endpoint]) -> str:
    """`{"endpoints": [...]}`, sorted by name and type, indented for reading."""
    return json.dumps({"endpoints": [endpoint_to_dict(e) for e in _ordered(endpoints)]}, indent=2)


def endpoints_table(endpoints: Iterable[Endpoint]) -> str:
    """A plain-text table: NAME TYPE TTL TARGETS RESOURCE, one endpoint a line."""
    header = ("NAME", "TYPE", "TTL", "TARGETS", "RESOURCE")
    rows = [header] + [
        (e.dns_name, e.record_type, str(e.ttl) if e.ttl else "-", ",".join(e.targets), e.resource)
        for e in _ordered(endpoints)
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]).rstrip()
        for row in rows
    )
