"""The two ways to converge: one batch of objects (from events) and everything (the resync)."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from extdns.endpoint import Endpoint
from extdns.sources import Cluster, ObjectRef, Rejection
from extdns.sources.collect import Collected, collect
from tasks import events, metrics
from tasks.converge import Outcome, converge
from tasks.logs import log
from tasks.runtime import Runtime
from tasks.world import bare, parse_ref, read_all, read_some, ref_key, snapshot


@dataclass(frozen=True)
class Message:
    """One queue message: a hint that an object changed. Never the truth; the task re-reads."""

    ref: ObjectRef
    seen: float = 0.0  # when the emitter saw the event (for the latency histogram)
    resource_version: str = ""
    type: str = ""  # the watch event type: ADDED, MODIFIED, DELETED

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Message:
        ref = ObjectRef(
            str(raw["kind"]), str(raw.get("namespace", "")), str(raw["name"]), str(raw.get("uid", ""))
        )
        rv, etype = str(raw.get("resourceVersion", "")), str(raw.get("type", ""))
        return cls(ref, float(raw.get("seen", 0.0)), rv, etype)

    def dump(self) -> dict[str, Any]:
        r = self.ref
        return {
            "kind": r.kind,
            "namespace": r.namespace,
            "name": r.name,
            "uid": r.uid,
            "resourceVersion": self.resource_version,
            "type": self.type,
            "seen": self.seen,
        }


def report_rejections(rt: Runtime, rejections: Iterable[Rejection], post_events: bool = True) -> None:
    """Log each bad object, count it, and (with RecordError in --events-emit) tell it with an Event."""
    emit = post_events and "RecordError" in rt.settings.events_emit
    for r in rejections:
        log.warning(f"Skipping {r.subject}: {r.reason}")
        metrics.source_errors.inc()
        metrics.invalid_input.labels(source=r.kind.lower(), culprit=r.subject).inc()
        if emit:
            events.post(rt.kube, r.ref, "RecordError", r.reason, warning=True)


def _claims_of(found: Collected) -> dict[ObjectRef, frozenset[str]]:
    return {bare(ref): names for ref, names in found.claims.items()}


def reconcile(
    rt: Runtime, messages: Sequence[Message], task_id: str = "", batch: int = 0, dry_run: bool = False
) -> Outcome:
    """Converge the names these objects (and up to `batch` other waiting ones) claim now or claimed before.

    Every other object claiming one of those names is read too, so the desired state for the
    names is complete and equals a full resync's; names outside them are not planned.
    """
    task_id = task_id or uuid.uuid4().hex
    own = sorted({ref_key(bare(m.ref)) for m in messages})
    refs = sorted({parse_ref(k) for k in rt.claims.take(task_id, own, batch)}, key=ref_key)
    if not refs:
        return Outcome()
    before = rt.claims.names_of(refs)
    state: dict[str, Any] = {}

    def desired(names: frozenset[str] | None) -> list[Endpoint]:
        objects, _ = read_some(rt.kube, refs)
        found = collect(snapshot(objects), rt.source_config, rt.sources)
        scope = {n for r in refs for n in _claims_of(found).get(r, frozenset()) | before.get(r, set())}
        others = rt.claims.claimants(scope) - set(refs)
        if others:
            more, _ = read_some(rt.kube, others)
            found = collect(snapshot([*objects, *more]), rt.source_config, rt.sources)
        state.update(now=_claims_of(found), scope=frozenset(scope), rejections=found.rejections)
        return [e for e in found.endpoints if e.dns_name in scope]

    wanted = desired(None)
    report_rejections(rt, state["rejections"])
    outcome = converge(rt.store, rt.sync_config, desired, state["scope"], dry_run=dry_run, first=wanted)
    if not dry_run and not outcome.unresolved:
        now: dict[ObjectRef, frozenset[str]] = state["now"]
        rt.claims.record({r: now.get(r, frozenset()) for r in {*refs, *now}}, before)
        rt.claims.done(task_id)
        stamp = time.time()
        for m in messages:
            if m.seen:
                metrics.event_to_record.observe(max(0.0, stamp - m.seen))
        if outcome.changed and "RecordReady" in rt.settings.events_emit:
            written = set(outcome.report.applied)
            for m in messages:
                names = sorted(now.get(bare(m.ref), frozenset()) & written)
                if names:
                    events.post(rt.kube, m.ref, "RecordReady", f"DNS records written for {', '.join(names)}")
    return outcome


def full_sync(
    rt: Runtime, read: Callable[[], Cluster] | None = None, dry_run: bool = False, rebuild_index: bool = True
) -> Outcome:
    """Plan everything against everything under the prefix; rebuild the claims index."""
    read = read or (lambda: read_all(rt.kube, rt.sources, rt.source_config))
    metrics.last_reconcile.set_to_current_time()
    found: list[Collected] = []

    def desired(names: frozenset[str] | None) -> list[Endpoint]:
        found.append(collect(read(), rt.source_config, rt.sources))
        return found[-1].endpoints

    wanted = desired(None)
    report_rejections(rt, found[0].rejections, post_events=False)  # the per-object task posts Events
    outcome = converge(rt.store, rt.sync_config, desired, None, dry_run=dry_run, first=wanted)
    types = Counter(e.record_type for e in wanted)
    for rtype in rt.sync_config.managed_record_types:
        metrics.source_records.labels(record_type=rtype).set(types.get(rtype, 0))
    if dry_run:
        return outcome
    if rebuild_index:
        rt.claims.rebuild(_claims_of(found[-1]))
    metrics.last_sync.set_to_current_time()
    if not outcome.changed:
        metrics.no_op_runs.inc()
        log.info("All records are already up to date")
    return outcome
