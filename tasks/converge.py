"""Converge etcd to the desired endpoints: read, plan with the core, apply; re-plan names that lost a race."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from extdns.endpoint import Endpoint
from extdns.records import SyncResult, name_keys, sync
from extdns.rejected import Rejected
from extdns.syncconfig import SyncConfig
from tasks import metrics
from tasks.etcdstore import ApplyReport, EtcdStore
from tasks.logs import log

# Desired endpoints, read fresh from the sources; for a set of names, or everything when None.
DesiredFn = Callable[[frozenset[str] | None], Sequence[Endpoint]]


@dataclass
class Outcome:
    """What one convergence did."""

    planned: int = 0  # names with writes planned (first round)
    report: ApplyReport = field(default_factory=ApplyReport)
    rejected: list[Rejected] = field(default_factory=list)
    rounds: int = 0
    unresolved: list[str] = field(default_factory=list)  # names still conflicting after every round

    @property
    def changed(self) -> bool:
        return self.report.writes > 0


def report_rejected(rejected: Iterable[Rejected]) -> None:
    for r in rejected:
        log.warning(f"Skipping {r}")
        source = "etcd" if r.subject.startswith("/") else "desired"
        metrics.invalid_input.labels(source=source, culprit=r.subject).inc()


def _plan(
    store: EtcdStore, cfg: SyncConfig, desired: Sequence[Endpoint], names: frozenset[str] | None
) -> tuple[SyncResult, int]:
    if names is None:
        kvs, revision = store.read_prefix()
    else:
        kvs, revision = store.read_keys(name_keys(names, cfg))
    result = sync(kvs, desired, cfg, names)
    for op in result.ops:
        for line in op.log_lines:
            log.info(line)
        for warning in op.warnings:
            log.warning(warning)
    return result, revision


def converge(
    store: EtcdStore,
    cfg: SyncConfig,
    desired: DesiredFn,
    names: frozenset[str] | None = None,
    *,
    dry_run: bool = False,
    rounds: int = 5,
    first: Sequence[Endpoint] | None = None,
) -> Outcome:
    """Make etcd hold the desired records for `names` (all names when None).

    A name whose transaction fails its conditions is re-read from etcd, its desired endpoints are
    read again, and it is re-planned, up to `rounds` times: a writer with an older view never wins.
    `first`, when given, is the desired state already read for the first round.
    """
    out = Outcome()
    scope = names
    for attempt in range(1, rounds + 1):
        wanted = first if attempt == 1 and first is not None else desired(scope)
        result, revision = _plan(store, cfg, wanted, scope)
        out.rounds = attempt
        if attempt == 1:
            out.planned = sum(1 for op in result.ops if op.puts or op.deletes)
            out.rejected = list(result.rejected)
            report_rejected(result.rejected)
        if dry_run:
            return out
        report = store.apply(result.ops, revision)
        out.report.add(report)
        out.report.conflicts = report.conflicts
        metrics.etcd_writes.labels(op="put").inc(report.puts)
        metrics.etcd_writes.labels(op="delete").inc(report.deletes)
        if not report.conflicts:
            return out
        metrics.etcd_conflicts.inc(len(report.conflicts))
        log.info("Re-planning names whose transaction lost a race", names=",".join(report.conflicts))
        scope = frozenset(report.conflicts)
    out.unresolved = list(out.report.conflicts)
    return out
