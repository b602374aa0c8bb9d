"""The Celery tasks: `extdns.reconcile` (a batch of object hints), `extdns.resync` (on beat, or in shards)."""

from __future__ import annotations

import os
import random
import sys
import time
import uuid
from typing import Any

from celery import Task, signals
from celery.exceptions import Retry

from adapters.outages import backend_of
from controller.reconcile import Message, full_sync, reconcile, skip_round
from extdns.shards import WHOLE, Shard
from process import health, logs, metrics, resources
from process.backoff import backoff_delay
from process.logs import log
from process.resources import retry_cap, tune_gc
from process.settings import SettingsError
from tasks.app import app

RESYNC_LOCK = "extdns:resync-lock"




@signals.after_setup_logger.connect  # type: ignore[untyped-decorator]
def _load_settings(**_: Any) -> None:
    """Worker and beat start-up: settings, logging and the beat schedule; a bad setting stops the start."""
    try:
        settings = resources.current().settings
    except SettingsError as exc:
        print(f"extdns: {exc}", file=sys.stderr)
        os._exit(2)  # Celery would log a traceback and go on starting; one line and out instead
    logs.configure(settings.log_level, settings.log_format)
    # The safety net: a full resync every --interval; a tick that waits longer than that is dropped.
    interval = settings.interval
    app.conf.beat_schedule = {
        "resync": {"task": "extdns.resync", "schedule": interval, "options": {"expires": interval}},
    }


@signals.worker_process_init.connect  # type: ignore[untyped-decorator]
def _tune_child(**_: Any) -> None:
    tune_gc()


@signals.worker_init.connect  # type: ignore[untyped-decorator]
def _serve_metrics(**_: Any) -> None:
    """Workers serve /metrics and /healthz on --metrics-address (all prefork children merged)."""
    health.serve(resources.current().settings.metrics_address)


def retry_delay(retries: int, jitter: float) -> float:
    """Outage retries: from 0.5 s, capped below the visibility timeout (jitter 0.5 to 1.0)."""
    return backoff_delay(retries, 0.5, retry_cap(), jitter)


def _retry(task: Task, exc: Exception, what: str) -> Retry:
    backend = backend_of(exc)
    if backend is None:
        metrics.tasks_total.labels(task=what, outcome="failed").inc()
        raise exc
    metrics.backend_errors.labels(backend=backend).inc()
    metrics.tasks_total.labels(task=what, outcome="retried").inc()
    if backend == "etcd":
        resources.current().reset_etcd()
    delay = retry_delay(task.request.retries, random.uniform(0.5, 1.0))
    first_line = (str(exc).splitlines() or [""])[0][:200]
    log.warning(f"{backend} unavailable, retrying {what} in {delay:.1f}s", error=first_line)
    return task.retry(exc=exc, countdown=delay)


MAX_REQUEUES = 20  # a task that keeps losing races (or waiting for a held object) gives up after this


def _requeue(task: Task, messages: list[dict[str, Any]], requeued: int, why: str) -> Retry:
    """Run this task again soon (same id, so it keeps the objects it holds), a bounded number of times."""
    metrics.requeues.labels(reason=why).inc()
    countdown = backoff_delay(requeued, 0.2, min(5.0, retry_cap()), random.uniform(0.5, 1.0))
    return task.retry(args=[messages], kwargs={"requeued": requeued + 1}, countdown=countdown)


# Outages are retried until they end (backoff capped below the visibility timeout); the task is idempotent.
@app.task(name="extdns.reconcile", bind=True, acks_late=True, max_retries=None)  # type: ignore[untyped-decorator]
def reconcile_task(self: Task, messages: list[dict[str, Any]], requeued: int = 0) -> dict[str, int]:
    """Converge the names these objects claim (now and before)."""
    rt = resources.current()
    task_id = self.request.id or uuid.uuid4().hex
    try:
        msgs = [Message.parse(m) for m in messages]
        outcome = reconcile(rt.controller, msgs, task_id=task_id, batch=rt.settings.reconcile_batch)
    except Exception as exc:
        raise _retry(self, exc, "reconcile") from exc
    if outcome.unresolved or outcome.blocked:
        why = "conflict" if outcome.unresolved else "object-held"
        if requeued < MAX_REQUEUES:
            raise _requeue(self, messages, requeued, why)
        rt.claims.done(task_id)
        metrics.tasks_total.labels(task="reconcile", outcome="abandoned").inc()
        log.warning(f"Giving up after {requeued} requeues ({why}); the next resync converges these names",
                    names=",".join(outcome.unresolved), objects=",".join(outcome.blocked))  # fmt: skip
        return {"writes": outcome.report.writes, "conflicts": len(outcome.unresolved)}
    metrics.tasks_total.labels(task="reconcile", outcome="ok").inc()
    return {"writes": outcome.report.writes, "conflicts": 0}


@app.task(name="extdns.resync", bind=True, acks_late=True)  # type: ignore[untyped-decorator]
def resync_task(self: Task) -> dict[str, int]:
    """A full sync; with --resync-shards N, N shard tasks instead, which any N workers run at once."""
    rt = resources.current()
    count = rt.settings.resync_shards
    if count == 1:
        return _resync(WHOLE)
    try:
        if skip_round(rt.controller, count):
            return {"writes": 0, "skipped": count}
    except Exception as exc:  # the shards tell an outage themselves; they run as if nothing were noted
        if backend_of(exc) is None:
            raise
        if backend_of(exc) == "etcd":
            rt.reset_etcd()
    interval = rt.settings.interval
    for index in range(count):
        resync_shard_task.apply_async(args=[index, count], expires=interval)
    return {"writes": 0, "skipped": 0, "shards": count}


@app.task(name="extdns.resync_shard", bind=True, acks_late=True)  # type: ignore[untyped-decorator]
def resync_shard_task(self: Task, index: int, count: int) -> dict[str, int]:
    """One shard of a sharded resync: everything read, only the names hashing to this shard planned."""
    return _resync(Shard(index, count))


def _resync(shard: Shard) -> dict[str, int]:
    """A full sync (or one shard of it), never two of the same at once: a Redis lock with a TTL."""
    rt = resources.current()
    interval = rt.settings.interval
    token = uuid.uuid4().hex
    lock = RESYNC_LOCK if shard.whole else f"{RESYNC_LOCK}:{shard.index}/{shard.count}"
    what = {} if shard.whole else {"shard": str(shard)}
    try:
        if not rt.claims.r.set(lock, token, nx=True, ex=max(60, int(interval * 4))):
            log.warning("Resync skipped: the previous one is still running", **what)
            metrics.tasks_total.labels(task="resync", outcome="skipped").inc()
            return {"writes": 0, "skipped": 1}
        start = time.monotonic()
        try:
            outcome = full_sync(rt.controller, shard=shard)
        finally:
            rt.claims.release(lock, token)  # compare-and-delete: never another run's lock
    except Exception as exc:
        # The next beat tick is the retry: report the outage, never stack runs.
        backend = backend_of(exc)
        if backend is None:
            metrics.tasks_total.labels(task="resync", outcome="failed").inc()
            raise
        metrics.backend_errors.labels(backend=backend).inc()
        metrics.registry_errors.inc()
        if backend == "etcd":
            rt.reset_etcd()
        metrics.tasks_total.labels(task="resync", outcome="failed").inc()
        first_line = str(exc).splitlines()[0][:200]
        log.error(f"Failed to do run once: {backend} unavailable", error=first_line, **what)
        return {"writes": 0, "failed": 1}
    took = time.monotonic() - start
    if took > interval:
        log.warning(f"Resync took {took:.1f}s, longer than --interval {interval:.0f}s", **what)
    metrics.tasks_total.labels(task="resync", outcome="ok").inc()
    return {"writes": outcome.report.writes, "skipped": 0}
