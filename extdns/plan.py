"""The planner, as ExternalDNS's plan.Calculate: desired vs current per (name, set-identifier) row."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from extdns.addresses import address_order
from extdns.domainfilter import MATCH_ALL, DomainFilter
from extdns.endpoint import ADDRESS_TYPES, DEFAULT_MANAGED_TYPES, OWNER_LABEL, Endpoint


class Policy(StrEnum):
    """--policy: which kinds of change are allowed."""

    SYNC = "sync"
    UPSERT_ONLY = "upsert-only"
    CREATE_ONLY = "create-only"


@dataclass(frozen=True)
class Blocked:
    """A desired endpoint not written because its name is held by another owner ("" = nobody's registry)."""

    endpoint: Endpoint
    holders: tuple[str, ...]


@dataclass(frozen=True)
class Changes:
    """What to do. update_old[i] and update_new[i] are the two sides of one update."""

    create: tuple[Endpoint, ...] = ()
    update_old: tuple[Endpoint, ...] = ()
    update_new: tuple[Endpoint, ...] = ()
    delete: tuple[Endpoint, ...] = ()
    blocked: tuple[Blocked, ...] = ()

    @property
    def has_changes(self) -> bool:
        return bool(self.create or self.update_new or self.delete)


@dataclass(slots=True)
class _Row:
    current: dict[str, Endpoint] = field(default_factory=dict)
    candidates: dict[str, list[Endpoint]] = field(default_factory=dict)

    def holders(self, owner_id: str) -> tuple[str, ...]:
        """Other owners ("" = nobody's registry) of current records in this row."""
        return tuple(sorted({ep.owner for ep in self.current.values() if ep.owner != owner_id}))


def candidate_order(endpoint: Endpoint) -> tuple[object, ...]:
    """Stable total order of candidates: fewer targets first, IPs numerically before names, then resource."""
    return (
        len(endpoint.targets),
        tuple(address_order(target) for target in endpoint.targets),
        endpoint.resource,
        endpoint.ttl,
        tuple(endpoint.provider_specific.items()),
        tuple(endpoint.labels.items()),
    )


def _resolve(candidates: list[Endpoint], current: Endpoint | None) -> Endpoint:
    """Keep the current resource's candidate if it still claims the name, else the minimal one."""
    if len(candidates) == 1:
        return candidates[0]
    if current is not None and current.resource:
        sticky = [candidate for candidate in candidates if candidate.resource == current.resource]
        if sticky:
            return min(sticky, key=candidate_order)
    return min(candidates, key=candidate_order)


def needs_update(current: Endpoint, desired: Endpoint) -> bool:
    """Targets, a configured TTL, provider-specific properties or the claiming resource changed."""
    return (
        (desired.ttl > 0 and desired.ttl != current.ttl)
        or desired.targets != current.targets
        or desired.provider_specific != current.provider_specific
        or bool(desired.resource and desired.resource != current.resource)
    )


def calculate(
    current: Iterable[Endpoint],
    desired: Iterable[Endpoint],
    *,
    owner_id: str,
    policy: Policy = Policy.SYNC,
    managed_record_types: frozenset[str] = DEFAULT_MANAGED_TYPES,
    domain_filter: DomainFilter = MATCH_ALL,
) -> Changes:
    """Compute the changes that take current to desired, touching only records owned by owner_id.

    An owned current endpoint without targets stands for an ownership TXT whose record is gone: it is
    deleted (sync) or re-filled by a create; a foreign one keeps its name blocked.
    """
    rows: dict[tuple[str, str], _Row] = {}

    def in_scope(endpoint: Endpoint) -> bool:
        return endpoint.record_type in managed_record_types and domain_filter.matches(endpoint.dns_name)

    def row_of(endpoint: Endpoint) -> _Row:
        key = (endpoint.dns_name, endpoint.set_identifier)
        row = rows.get(key)
        if row is None:
            row = rows[key] = _Row()
        return row

    for endpoint in filter(in_scope, current):
        row_of(endpoint).current.setdefault(endpoint.record_type, endpoint)
    for endpoint in filter(in_scope, desired):
        row_of(endpoint).candidates.setdefault(endpoint.record_type, []).append(endpoint)

    create: list[Endpoint] = []
    updates: list[tuple[Endpoint, Endpoint]] = []
    delete: list[Endpoint] = []
    blocked: list[Blocked] = []
    for key in sorted(rows):
        row = rows[key]
        candidates = row.candidates
        if "CNAME" in candidates and ADDRESS_TYPES & candidates.keys():
            candidates = {rtype: wanted for rtype, wanted in candidates.items() if rtype != "CNAME"}
        for record_type in sorted(row.current.keys() | candidates.keys()):
            existing = row.current.get(record_type)
            wanted = candidates.get(record_type)
            if wanted is None:
                if existing is not None:
                    delete.append(existing)
            elif existing is None or not existing.targets:
                chosen = _resolve(wanted, existing)
                holders = row.holders(owner_id)
                if holders:
                    blocked.append(Blocked(chosen, holders))
                else:
                    create.append(chosen.with_labels(**{OWNER_LABEL: owner_id}))
            else:
                chosen = _resolve(wanted, existing)
                if needs_update(existing, chosen):
                    new_labels = {**chosen.labels, OWNER_LABEL: existing.owner}
                    updates.append((existing, replace(chosen, labels=new_labels)))

    if policy is not Policy.SYNC:
        delete = []
    if policy is Policy.CREATE_ONLY:
        updates = []
    delete = [endpoint for endpoint in delete if endpoint.owner == owner_id]
    # An update of a record another owner (or nobody's registry) holds is refused like a create.
    blocked += [Blocked(new, (old.owner,)) for old, new in updates if old.owner != owner_id]
    updates = [(old, new) for old, new in updates if old.owner == owner_id]
    return Changes(
        create=tuple(create),
        update_old=tuple(old for old, _ in updates),
        update_new=tuple(new for _, new in updates),
        delete=tuple(delete),
        blocked=tuple(blocked),
    )
