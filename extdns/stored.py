"""Reading etcd: keys under the prefix -> current Endpoints with ownership labels, plus rejected keys."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from operator import attrgetter

from extdns.addresses import address_type
from extdns.endpoint import (
    EMPTY_MAP,
    FORCE_UPDATE_PROPERTY,
    GROUP_PROPERTY,
    OWNER_LABEL,
    Endpoint,
    StrMap,
    canonical_target,
)
from extdns.key_layout import Slot, ownership_service, ownership_text, slot_service
from extdns.names import is_reverse_name, name_problem
from extdns.passmemo import PassMemo
from extdns.registry import OLD_FORMAT, parse_labels
from extdns.rejected import Rejected
from extdns.skydns import DecodeError, Service, decode_service, key_to_name, name_to_key
from extdns.syncconfig import SyncConfig

Owned = tuple[str, str]  # (record name, record type); type "" = old-format ownership of every type but AAAA
# An old-format ownership TXT that no record relies on is planned as an A record without targets.
OLD_FORMAT_STANDIN = "A"


@dataclass(frozen=True, slots=True)
class KeyValue:
    """One key as the etcd adapter read it."""

    key: str
    value: bytes
    mod_revision: int


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A decoded value at its key: which targets it serves and which records its registry text owns."""

    key: str
    mod_revision: int
    name: str
    service: Service
    slots: tuple[Slot, ...]
    labels: StrMap | None
    owns: tuple[Owned, ...]

    @property
    def claimed_owner(self) -> str:
        return self.labels.get(OWNER_LABEL, "") if self.labels is not None else ""


@dataclass(frozen=True)
class CurrentState:
    """What etcd holds, as the plan and the writer need it.

    `endpoints` has one Endpoint per (name, type) with owner/resource labels joined from the registry;
    an ownership TXT whose record is gone shows up as an Endpoint without targets (for an orphaned
    old-format TXT, of type OLD_FORMAT_STANDIN), so the plan deletes it, re-fills it, or respects it.
    """

    endpoints: tuple[Endpoint, ...]
    rejected: tuple[Rejected, ...]
    records: Mapping[str, tuple[StoredRecord, ...]]
    ownership: Mapping[Owned, tuple[StoredRecord, ...]]
    revisions: Mapping[str, int]
    by_name: Mapping[str, tuple[Endpoint, ...]]

    def endpoints_at(self, name: str) -> tuple[Endpoint, ...]:
        return self.by_name.get(name, ())

    def has_record(self, owned: Owned) -> bool:
        """Tell whether (name, type) has a record with targets (not just an ownership TXT)."""
        return any(ep.record_type == owned[1] and ep.targets for ep in self.endpoints_at(owned[0]))

    def relies_on_old_format(self, name: str, rewritten: Collection[str] = ()) -> bool:
        """Tell whether a record at name, other than the rewritten types, is owned only by old-format TXT."""
        return _relies_on_old_format(self.endpoints_at(name), rewritten, self.ownership)


class Hidden:
    """A key strictly-owned mode hides (another owner's), as the decode memo keeps it."""


HIDDEN = Hidden()
# A key's decoding by (key, mod revision, value): what `_read` made of it.
DecodeMemo = PassMemo[tuple[str, int, bytes], "StoredRecord | Rejected | Hidden"]


def current_state(kvs: Iterable[KeyValue], cfg: SyncConfig, memo: DecodeMemo | None = None) -> CurrentState:
    """Decode every key; bad keys are rejected with a reason and never stop the rest.

    With a memo (a running process's resync), a key read before at the same mod revision and value
    is not decoded again.
    """
    rejected: list[Rejected] = []
    records: dict[str, list[StoredRecord]] = defaultdict(list)
    ownership: dict[Owned, list[StoredRecord]] = defaultdict(list)
    revisions: dict[str, int] = {}
    services: dict[bytes, Service | DecodeError] = {}  # a value shared by many keys is decoded once
    if memo is not None:
        memo.begin(cfg)
    for kv in sorted(kvs, key=attrgetter("key")):
        revisions[kv.key] = kv.mod_revision
        memo_key = (kv.key, kv.mod_revision, kv.value)
        found = memo.get(memo_key) if memo is not None else None
        if found is None:
            read = _read(kv, cfg, services)
            found = HIDDEN if read is None else read
        if memo is not None:
            memo.put(memo_key, found)
        item = None if isinstance(found, Hidden) else found
        if isinstance(item, Rejected):
            rejected.append(item)
        elif item is not None:
            for owned in item.owns:
                ownership[owned].append(item)
            if item.slots:
                records[item.name].append(item)

    by_name: dict[str, dict[str, Endpoint]] = defaultdict(dict)
    for name, stored in records.items():
        by_type: dict[str, list[tuple[Slot, StoredRecord]]] = defaultdict(list)
        for record in stored:
            for slot in record.slots:
                by_type[slot.record_type].append((slot, record))
        for rtype, entries in by_type.items():
            by_name[name][rtype] = _endpoint(name, rtype, entries, ownership, cfg)
    present = {(name, rtype) for name, at_name in by_name.items() for rtype in at_name}
    for (name, rtype), registry in ownership.items():
        # A TXT named after a wildcard replacement owns two names; it is an orphan only if both are gone.
        orphaned = [record for record in registry if not present.intersection(record.owns)]
        if rtype != OLD_FORMAT and orphaned:
            by_name[name][rtype] = Endpoint(name, rtype, (), labels=_labels(orphaned, (), cfg.owner_id))
    for (name, rtype), registry in ownership.items():
        at_name = by_name[name]
        if (
            rtype == OLD_FORMAT
            and OLD_FORMAT_STANDIN not in at_name
            and not _relies_on_old_format(at_name.values(), (), ownership)
        ):
            at_name[OLD_FORMAT_STANDIN] = Endpoint(
                name, OLD_FORMAT_STANDIN, (), labels=_labels(registry, (), cfg.owner_id)
            )
    if memo is not None:
        memo.end()
    ordered = {
        name: tuple(at_name[rtype] for rtype in sorted(at_name)) for name, at_name in sorted(by_name.items())
    }
    return CurrentState(
        endpoints=tuple(endpoint for at_name in ordered.values() for endpoint in at_name),
        rejected=tuple(rejected),
        records={name: tuple(stored) for name, stored in records.items()},
        ownership={owned: tuple(registry) for owned, registry in ownership.items()},
        revisions=revisions,
        by_name={name: at_name for name, at_name in ordered.items() if at_name},
    )


def _read(
    kv: KeyValue, cfg: SyncConfig, services: dict[bytes, Service | DecodeError]
) -> StoredRecord | Rejected | None:
    """Decode one key (values memoised in `services`); None when strictly-owned mode hides another owner's."""
    path_name = key_to_name(kv.key, cfg.prefix)
    if path_name is None:
        return Rejected(kv.key, f"key is not under the prefix {cfg.prefix}/")
    problem = name_problem(path_name)
    if problem is not None:
        return Rejected(kv.key, problem)
    if name_to_key(path_name, cfg.prefix) != kv.key:
        return Rejected(
            kv.key, f"key is not canonical; CoreDNS looks up {name_to_key(path_name, cfg.prefix)}"
        )
    service = services.get(kv.value)
    if service is None:
        service = services[kv.value] = decode_service(kv.value)
    if isinstance(service, DecodeError):
        return Rejected(kv.key, service.reason)
    labels = path_name.split(".")
    if not 0 <= service.targetstrip < len(labels):
        return Rejected(kv.key, f"targetstrip {service.targetstrip} leaves no name of {path_name!r}")
    if cfg.strictly_owned and service.owner != cfg.owner_id:
        return None
    if not service.host and not service.text:
        return Rejected(kv.key, "value has neither host nor text")
    name = ".".join(labels[service.targetstrip :])
    registry = parse_labels(service.text) if service.text else None
    owns: tuple[Owned, ...] = ()
    if registry is not None:
        owns = ((name, OLD_FORMAT),) if service.host else cfg.mapper.owners_of(name)
    if not owns:
        registry = None
    slots: list[Slot] = []
    if service.host:
        rtype = address_type(service.host) or ("PTR" if is_reverse_name(name) else "CNAME")
        slots.append(Slot(rtype, canonical_target(rtype, service.host)))
    if service.text and registry is None:
        slots.append(Slot("TXT", service.text))
    return StoredRecord(kv.key, kv.mod_revision, name, service, tuple(slots), registry, owns)


def _relies_on_old_format(
    endpoints: Iterable[Endpoint],
    rewritten: Collection[str],
    ownership: Mapping[Owned, Sequence[StoredRecord]],
) -> bool:
    return any(
        endpoint.targets
        and endpoint.record_type not in rewritten
        and endpoint.record_type != "AAAA"
        and not ownership.get((endpoint.dns_name, endpoint.record_type))
        for endpoint in endpoints
    )


def _registry_for(
    name: str, rtype: str, ownership: Mapping[Owned, Sequence[StoredRecord]]
) -> Sequence[StoredRecord]:
    """New-format ownership of (name, type), else the old untyped format (never for AAAA)."""
    typed = ownership.get((name, rtype), ())
    if typed or rtype == "AAAA":
        return typed
    return ownership.get((name, OLD_FORMAT), ())


def _labels(registry: Sequence[StoredRecord], value_owners: Iterable[str], owner_id: str) -> StrMap:
    """Join registry labels; when claims disagree, the record counts as foreign so it is never touched."""
    if not registry:
        return EMPTY_MAP
    labels = registry[0].labels or EMPTY_MAP
    claims = [record.claimed_owner for record in registry]
    claims += [owner for owner in value_owners if owner]
    foreign = [claim for claim in claims if claim != owner_id]
    return labels.merged(**{OWNER_LABEL: min(foreign)}) if foreign else labels


def _endpoint(
    name: str,
    rtype: str,
    entries: list[tuple[Slot, StoredRecord]],
    ownership: Mapping[Owned, Sequence[StoredRecord]],
    cfg: SyncConfig,
) -> Endpoint:
    first = entries[0][1].service
    registry = _registry_for(name, rtype, ownership)
    labels = _labels(registry, (record.service.owner for _, record in entries), cfg.owner_id)
    properties = StrMap({GROUP_PROPERTY: first.group}) if first.group else EMPTY_MAP
    targets = tuple(slot.target for slot, _ in entries)
    endpoint = Endpoint(name, rtype, targets, first.ttl, labels=labels, provider_specific=properties)
    if endpoint.owner != cfg.owner_id or _is_canonical(endpoint, entries, registry, cfg):
        return endpoint
    return replace(endpoint, provider_specific={**properties, FORCE_UPDATE_PROPERTY: "true"})


def _is_canonical(
    endpoint: Endpoint,
    entries: list[tuple[Slot, StoredRecord]],
    registry: Sequence[StoredRecord],
    cfg: SyncConfig,
) -> bool:
    """Is this owned record stored exactly as a write would store it (so no rewrite is due)?

    One value per target, all with the same TTL and group and no merged text, and one new-format
    ownership TXT of its own whose text is what writing its labels gives (whichever labels they are:
    like ExternalDNS, labels alone never cause a rewrite). ExternalDNS's random key suffixes are fine
    and kept.
    """
    if len(entries) != len(endpoint.targets) or len(registry) != 1:
        return False
    (ownership,) = registry
    expected_text = ownership_text(cfg.owner_id, endpoint.labels)
    if (
        endpoint.dns_name,
        endpoint.record_type,
    ) not in ownership.owns or ownership.service != ownership_service(
        ownership.name, expected_text, cfg.value_owner
    ):
        return False
    return all(
        record.service == slot_service(endpoint.dns_name, slot, endpoint.ttl, endpoint.group, cfg.value_owner)
        for slot, record in entries
    )
