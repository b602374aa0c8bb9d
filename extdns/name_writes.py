"""Writing etcd: planned Changes -> per-name key puts and exact deletes, conditional on the revisions read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from extdns.endpoint import Endpoint
from extdns.key_layout import Slot, ownership_service, ownership_text, slot_key, slot_service
from extdns.plan import Changes
from extdns.registry import OLD_FORMAT
from extdns.skydns import Service, encode_service
from extdns.stored import CurrentState, StoredRecord
from extdns.syncconfig import SyncConfig


@dataclass(frozen=True)
class NameOps:
    """Everything to write for one DNS name: its records and their ownership TXT, as one etcd transaction.

    `expected` maps every key read for this name (its records and ownership TXT) to its mod_revision,
    and every new key to 0 ("must not exist"); the transaction must only apply if all still hold.
    """

    name: str
    puts: dict[str, bytes]
    deletes: tuple[str, ...]
    expected: dict[str, int]
    log_lines: tuple[str, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Want:
    """A value that must exist: the target it serves, its value, its key if no existing key is reused."""

    slot: Slot
    service: Service
    key: str


@dataclass
class _Placement:
    """Keys chosen so far for one name: reuse what matches, rewrite in place, else a new stable key."""

    current: CurrentState
    puts: dict[str, Service] = field(default_factory=dict)
    deletes: list[str] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)

    def place(self, wants: list[_Want], candidates: list[tuple[StoredRecord, frozenset[Slot]]]) -> None:
        free = list(candidates)
        pending = []
        for want in wants:  # 1. an existing value already right: keep it, write nothing
            match = next((c for c in free if c[0].service == want.service), None)
            if match is None:
                pending.append(want)
            else:
                free.remove(match)
                self.taken.add(match[0].key)
        unplaced = []
        for want in pending:  # 2. an existing key for the same target: rewrite it in place
            fits = want.service.targetstrip
            match = next((c for c in free if want.slot in c[1] and c[0].service.targetstrip == fits), None)
            if match is None:
                unplaced.append(want)
            else:
                free.remove(match)
                self._put(match[0].key, want.service)
        for want in unplaced:  # 3. the deterministic key
            match = next((c for c in free if c[0].key == want.key), None)
            if match is not None:
                free.remove(match)
            elif want.key in self.taken:
                self.warnings.append(
                    f"{want.slot.record_type} {want.slot.target!r} shares key {want.key}"
                    " with another target and is not written"
                )
                continue
            elif want.key in self.current.revisions:
                self.warnings.append(
                    f"key {want.key} exists and is not ours; {want.slot.target!r} not written"
                )
                continue
            self._put(want.key, want.service)
        self.deletes.extend(record.key for record, _ in free)

    def _put(self, key: str, service: Service) -> None:
        self.puts[key] = service
        self.taken.add(key)


def compute_ops(current: CurrentState, changes: Changes, cfg: SyncConfig) -> list[NameOps]:
    """Turn planned changes into one NameOps per touched name; names that need no write are left out."""
    finals: dict[str, dict[str, Endpoint | None]] = {}
    for endpoint in changes.delete:
        finals.setdefault(endpoint.dns_name, {})[endpoint.record_type] = None
    for endpoint in (*changes.update_new, *changes.create):
        finals.setdefault(endpoint.dns_name, {})[endpoint.record_type] = endpoint
    ops = (_name_ops(name, finals[name], current, cfg) for name in sorted(finals))
    return [op for op in ops if op.puts or op.deletes]


def _name_ops(
    name: str, finals: Mapping[str, Endpoint | None], current: CurrentState, cfg: SyncConfig
) -> NameOps:
    placement = _Placement(current)
    records = current.records.get(name, ())
    affected = [record for record in records if any(slot.record_type in finals for slot in record.slots)]
    wants = [
        _Want(
            slot,
            slot_service(name, slot, endpoint.ttl, endpoint.group, cfg.value_owner),
            slot_key(name, slot, cfg.prefix),
        )
        for record_type, endpoint in sorted(finals.items())
        if endpoint is not None
        for slot in (Slot(record_type, target) for target in endpoint.targets)
    ]
    # Other targets sharing a rewritten value (ExternalDNS merged TXT into host values) keep their data.
    wants += [
        _Want(
            slot,
            slot_service(name, slot, record.service.ttl, record.service.group, record.service.owner),
            slot_key(name, slot, cfg.prefix),
        )
        for record in affected
        for slot in record.slots
        if slot.record_type not in finals
    ]
    placement.place(wants, [(record, frozenset(record.slots)) for record in affected])

    read = {record.key for record in records}
    for record_type, endpoint in sorted(finals.items()):
        registry = current.ownership.get((name, record_type), ())
        read.update(record.key for record in registry)
        ours = [
            record
            for record in registry
            if _is_ours(record, cfg)
            and not any(current.has_record(other) for other in record.owns if other != (name, record_type))
        ]
        txt_name = cfg.mapper.txt_name(name, record_type)
        ownership_wants = []
        if endpoint is not None:
            text = ownership_text(cfg.owner_id, endpoint.labels)
            slot = Slot("TXT", text)
            ownership_wants.append(
                _Want(
                    slot,
                    ownership_service(txt_name, text, cfg.value_owner),
                    slot_key(txt_name, slot, cfg.prefix),
                )
            )
        placement.place(
            ownership_wants, [(record, frozenset(w.slot for w in ownership_wants)) for record in ours]
        )

    old_format = current.ownership.get((name, OLD_FORMAT), ())
    read.update(record.key for record in old_format)
    if not current.relies_on_old_format(name, finals.keys()):
        placement.deletes.extend(record.key for record in old_format if _is_ours(record, cfg))

    deletes = tuple(sorted(set(placement.deletes)))
    expected = {key: current.revisions[key] for key in read}
    expected.update({key: current.revisions.get(key, 0) for key in placement.puts})
    return NameOps(
        name=name,
        puts={key: encode_service(service) for key, service in sorted(placement.puts.items())},
        deletes=deletes,
        expected=dict(sorted(expected.items())),
        log_lines=tuple(_log_lines(placement.puts, deletes)),
        warnings=tuple(placement.warnings),
    )


def _is_ours(record: StoredRecord, cfg: SyncConfig) -> bool:
    """A registry value we may rewrite or delete: our owner label, in its own text-only value."""
    return record.claimed_owner == cfg.owner_id and not record.service.host


def _log_lines(puts: Mapping[str, Service], deletes: Iterable[str]) -> list[str]:
    """ExternalDNS's coredns provider log lines, in its words."""
    lines = [
        f"Add/set key {key} to Host={service.host}, Text={service.text}, TTL={service.ttl}"
        for key, service in sorted(puts.items())
    ]
    lines.extend(f"Delete key {key} (exact=true)" for key in deletes)  # v0.22.0's words; ours are all exact
    return lines
