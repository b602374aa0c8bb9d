"""The coredns provider, pure: etcd keys + desired endpoints -> per-name etcd operations."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from extdns.desired_checks import validate_desired
from extdns.endpoint import Endpoint
from extdns.name_writes import NameOps, compute_ops
from extdns.plan import Changes, calculate
from extdns.registry import OLD_FORMAT
from extdns.rejected import Rejected
from extdns.skydns import name_to_key
from extdns.stored import CurrentState, DecodeMemo, KeyValue, StoredRecord, current_state
from extdns.syncconfig import SyncConfig

__all__ = [
    "CurrentState",
    "KeyValue",
    "NameOps",
    "Rejected",
    "StoredRecord",
    "SyncConfig",
    "SyncResult",
    "compute_ops",
    "current_state",
    "name_keys",
    "sync",
]


@dataclass(frozen=True)
class SyncResult:
    """The writes to apply (one transaction per name), what was skipped and why, and the plan behind it."""

    ops: tuple[NameOps, ...]
    rejected: tuple[Rejected, ...]
    changes: Changes


def sync(
    kvs: Iterable[KeyValue],
    desired: Iterable[Endpoint],
    cfg: SyncConfig,
    names: frozenset[str] | None = None,
    memo: DecodeMemo | None = None,
) -> SyncResult:
    """Read etcd, plan against desired, and produce the writes.

    With `names`, only those DNS names are planned (the per-object reconcile: the names an object
    claims now and claimed before); `desired` must then hold every source's endpoints for them.
    Without it, everything under the prefix is (the full resync). A memo spares decoding keys read
    before (see `current_state`).
    """
    current = current_state(kvs, cfg, memo)
    accepted, rejected = validate_desired(desired, cfg)
    present = current.endpoints
    if names is not None:
        scope = {name.lower().removesuffix(".") for name in names}
        present = tuple(endpoint for endpoint in present if endpoint.dns_name in scope)
        accepted = [endpoint for endpoint in accepted if endpoint.dns_name in scope]
    changes = calculate(
        present,
        accepted,
        owner_id=cfg.owner_id,
        policy=cfg.policy,
        managed_record_types=cfg.managed_record_types,
        domain_filter=cfg.domain_filter,
    )
    ops = compute_ops(current, changes, cfg)
    return SyncResult(ops=tuple(ops), rejected=(*current.rejected, *rejected), changes=changes)


def name_keys(names: Iterable[str], cfg: SyncConfig) -> tuple[str, ...]:
    """Return the etcd keys to read for a per-name sync: read each key itself and everything under key + "/".

    Covers the names' records and their ownership TXT records, new format for every managed type and
    the old untyped format.
    """
    keys = set()
    for name in names:
        keys.add(name_to_key(name, cfg.prefix))
        for record_type in (*cfg.managed_record_types, OLD_FORMAT):
            keys.add(name_to_key(cfg.mapper.txt_name(name, record_type), cfg.prefix))
    return tuple(sorted(keys))
