"""The two ways to converge: one batch of objects (from events) and everything (the resync)."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from extdns.endpoint import Endpoint
from extdns.sources import Cluster, ObjectRef, Rejection, endpoints_for_object
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


def _claims(
    objects: Mapping[ObjectRef, Any], cluster: Cluster, rt: Runtime
) -> tuple[dict[ObjectRef, frozenset[str]], list[Rejection]]:
    """What each object claims now, with its (unmerged) endpoints and rejections."""
    claims: dict[ObjectRef, frozenset[str]] = {}
    rejections: list[Rejection] = []
    for ref, obj in objects.items():
        if ref.kind.lower() not in rt.sources:
            claims[ref] = frozenset()
            continue
        result = endpoints_for_object(ref.kind, obj, cluster, rt.source_config)
        claims[ref] = frozenset(e.dns_name for e in result.endpoints)
        rejections += result.rejections
    return claims, rejections


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
        objects, found = read_some(rt.kube, refs)
        cluster = snapshot(objects)
        now, rejections = _claims({r: found[r] for r in found}, cluster, rt)
        scope = {n for r in refs for n in now.get(r, frozenset()) | before.get(r, set())}
        others = rt.claims.claimants(scope) - set(refs)
        if others:
            more, more_found = read_some(rt.kube, others)
            cluster = snapshot([*objects, *more])
            found = {**found, **more_found}
            now, rejections = _claims(found, cluster, rt)
        state.update(now=now, scope=frozenset(scope), rejections=rejections, cluster=cluster)
        result = collect(cluster, rt.source_config, rt.sources)
        return [e for e in result.endpoints if e.dns_name in scope]

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
        rt.claims.rebuild({replace(ref, uid=""): names for ref, names in found[-1].claims.items()})
    metrics.last_sync.set_to_current_time()
    if not outcome.changed:
        metrics.no_op_runs.inc()
        log.info("All records are already up to date")
    return outcome
