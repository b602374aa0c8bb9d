"""The etcd layout written here: one key per target under a stable suffix, ownership at its own key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from extdns.endpoint import OWNER_LABEL
from extdns.names import is_reverse_name
from extdns.registry import format_labels
from extdns.skydns import Service, name_to_key, target_suffix


@dataclass(frozen=True, order=True, slots=True)
class Slot:
    """One (record type, canonical target) that a stored value serves."""

    record_type: str
    target: str


def uses_exact_key(name: str) -> bool:
    """Reverse names live at their exact key (CoreDNS reads PTR exactly), all others under a suffix."""
    return is_reverse_name(name)


def slot_key(name: str, slot: Slot, prefix: str) -> str:
    """Return the deterministic etcd key for one target of a name."""
    base = name_to_key(name, prefix)
    return base if uses_exact_key(name) else f"{base}/{target_suffix(slot.record_type, slot.target)}"


def slot_service(name: str, slot: Slot, ttl: int, group: str, owner: str) -> Service:
    """Return the value written for one target: host for addresses and names, text for TXT."""
    strip = 0 if uses_exact_key(name) else 1
    if slot.record_type == "TXT":
        return Service(text=slot.target, ttl=ttl, targetstrip=strip, group=group, owner=owner)
    return Service(host=slot.target, ttl=ttl, targetstrip=strip, group=group, owner=owner)


def ownership_text(owner: str, labels: Mapping[str, str]) -> str:
    """Return the registry text written for a record: every label of it (resource, ...), and the owner."""
    return format_labels({**labels, OWNER_LABEL: owner})


def ownership_service(txt_name: str, text: str, owner: str) -> Service:
    """Return the value of an ownership TXT record (no TTL, no group, like ExternalDNS writes it)."""
    return slot_service(txt_name, Slot("TXT", text), 0, "", owner)
