"""Converge etcd to the cluster: take a view, read the cluster, read etcd at the view, plan, commit fenced.

The order is the whole point: the etcd revision R is taken *before* the cluster (and the claims
index) is read, etcd is read *at* R, and every name commits only if nothing was written to it
since R (see `extdns.fencing`). A writer whose cluster view is older than a committed write
therefore loses, and re-reads everything for the names it lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from controller.ports import ApplyReport, RecordsState, RecordStore, ViewExpired
from extdns.endpoint import Endpoint
from extdns.fencing import MAX_VIEW_AGE, fence_key, fenced, marker_key, touch, touch_objects
from extdns.plan import Blocked
from extdns.provider import NameOps, name_keys, sync
from extdns.rejected import Rejected
from extdns.shards import WHOLE, Shard, split
from extdns.stored import DecodeMemo
from extdns.syncconfig import SyncConfig
from process import metrics
from process.logs import log


@dataclass(frozen=True)
class Wanted:
    """One reading of the cluster: desired endpoints, the names they cover, and who claims what.

    `scope` None means every name under the prefix (of `shard`'s names). `claimants` maps a name to
    the objects (`Kind/ns/name`) claiming it in this view; `objects` are objects whose markers this writer
    moves even when they claim no name (a reconcile task's own).
    """

    endpoints: Sequence[Endpoint]
    scope: frozenset[str] | None = None
    claimants: Mapping[str, frozenset[str]] = field(default_factory=dict)
    objects: frozenset[str] = frozenset()
    shard: Shard = WHOLE  # with scope None: plan only this shard's names (a sharded resync)


# Read the cluster for the names still to plan (None on the first round).
DesiredFn = Callable[[frozenset[str] | None], Wanted]
# Called with the names about to be committed, before the commit (the resync records their claims).
BeforeCommit = Callable[[Wanted, Sequence[str]], None]


@dataclass
class Outcome:
    """What one convergence did."""

    planned: int = 0  # names with writes planned (first round)
    report: ApplyReport = field(default_factory=ApplyReport)
    rejected: list[Rejected] = field(default_factory=list)
    refused: list[Blocked] = field(default_factory=list)  # not created: another owner holds the name
    rounds: int = 0
    unresolved: list[str] = field(default_factory=list)  # names still conflicting after every round
    blocked: list[str] = field(default_factory=list)  # objects another task holds (reconcile only)
    read_state: RecordsState | None = None  # the records the first round planned against (whole prefix)

    @property
    def changed(self) -> bool:
        return self.report.writes > 0


def report_rejected(rejected: Iterable[Rejected]) -> None:
    for r in rejected:
        log.warning(f"Skipping {r}")
        source = "etcd" if r.subject.startswith("/") else "desired"
        metrics.invalid_input.labels(source=source, culprit=r.subject).inc()


def _log_ops(ops: Iterable[NameOps]) -> None:
    for op in ops:
        for line in op.log_lines:
            log.info(line)
        for warning in op.warnings:
            log.warning(warning)


def converge(
    store: RecordStore,
    cfg: SyncConfig,
    desired: DesiredFn,
    *,
    dry_run: bool = False,
    rounds: int = 5,
    touch_scope: bool = False,
    before_commit: BeforeCommit | None = None,
    clock: Callable[[], float] = time.monotonic,
    decode_memo: DecodeMemo | None = None,
) -> Outcome:
    """Make etcd hold what the cluster asks for, for the names `desired` covers.

    A name whose transaction fails its guards is planned again from a new view, up to `rounds`
    times; names still losing are `unresolved` (the caller retries later). With `touch_scope`,
    every name in scope with nothing to write still gets its guards moved, and so do the markers of
    `Wanted.objects` (see `extdns.fencing`). A decode memo spares the first round decoding keys read
    before.
    """
    out = Outcome()
    todo: frozenset[str] | None = None
    for attempt in range(1, rounds + 1):
        out.rounds = attempt
        view = store.begin()
        wanted = desired(todo)
        scope = wanted.scope
        try:
            if scope is None:
                snap = store.read(view)
            else:
                objects = {o for n in scope for o in wanted.claimants.get(n, ())} | wanted.objects
                guards = [fence_key(n, cfg.prefix) for n in sorted(scope)]
                guards += [marker_key(o, cfg.prefix) for o in sorted(objects)]
                snap = store.read(view, name_keys(scope, cfg), guards)
        except ViewExpired:
            log.info("etcd compacted the revision read; taking a new view")
            continue
        memo = decode_memo if attempt == 1 else None  # a re-plan reads a few names: keep the memo whole
        if scope is None and not wanted.shard.whole:
            part = split(snap.kvs, wanted.endpoints, cfg, wanted.shard)
            result = sync(part.kvs, part.endpoints, cfg, part.names, memo)
        else:
            result = sync(snap.kvs, wanted.endpoints, cfg, scope, memo)
        if attempt == 1:
            out.read_state = RecordsState.of(snap.kvs) if scope is None else None
            out.planned = sum(1 for op in result.ops if op.puts or op.deletes)
            out.rejected = list(result.rejected)
            report_rejected(result.rejected)
        out.refused = list(result.changes.blocked)
        claims = wanted.claimants
        txns = [fenced(op, cfg.prefix, snap.fences, claims.get(op.name, ())) for op in result.ops]
        if touch_scope and scope is not None:
            planned = {op.name for op in result.ops}
            txns += [touch(n, cfg.prefix, snap.fences, claims.get(n, ())) for n in sorted(scope - planned)]
            covered = {o for n in scope for o in claims.get(n, ())}
            if wanted.objects - covered:
                txns.append(touch_objects(wanted.objects - covered, cfg.prefix, snap.fences))
        if dry_run or not txns:
            _log_ops(result.ops)  # dry-run: what would be written, in the same words
            out.unresolved = []
            return out
        if clock() - view.taken > MAX_VIEW_AGE:  # tombstones may be gone: this view can no longer be fenced
            todo = frozenset(t.name for t in txns)
            log.warning("The cluster view is too old to commit; reading again", names=len(todo))
            continue
        if before_commit is not None:
            before_commit(wanted, [op.name for op in result.ops])
        report = store.apply(txns)
        applied = set(report.applied)
        _log_ops(op for op in result.ops if op.name in applied)
        out.report.add(report)
        out.report.conflicts = report.conflicts
        metrics.etcd_writes.labels(op="put").inc(report.puts)
        metrics.etcd_writes.labels(op="delete").inc(report.deletes)
        if not report.conflicts:
            out.unresolved = []
            return out
        metrics.etcd_conflicts.inc(len(report.conflicts))
        log.info("Re-planning names whose transaction lost a race", names=",".join(report.conflicts))
        todo = frozenset(report.conflicts)
    out.unresolved = sorted(todo) if todo else ["*"]  # "*": no view could be read or fenced at all
    return out
