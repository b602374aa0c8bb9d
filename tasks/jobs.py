"""The Celery tasks: `extdns.reconcile` (a batch of object hints), `extdns.resync` (all, on beat)."""

from __future__ import annotations

import gc
import time
import uuid
from typing import Any

import grpc
import redis
from celery import Task, signals
from celery.exceptions import Retry
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from tasks import metrics, opshttp, runtime
from tasks.app import app
from tasks.logs import log
from tasks.sync import Message, full_sync, reconcile

RESYNC_LOCK = "extdns:resync-lock"


def tune_gc() -> None:
    """Fewer collections of the long-lived heap: the no-op resync of 100k names spends ~20% in the GC."""
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


@signals.worker_process_init.connect  # type: ignore[untyped-decorator]
def _tune_child(**_: Any) -> None:
    tune_gc()


@signals.worker_init.connect  # type: ignore[untyped-decorator]
def _serve_metrics(**_: Any) -> None:
    """Workers serve /metrics and /healthz on --metrics-address (all prefork children merged)."""
    opshttp.serve(runtime.current().settings.metrics_address)


# Outages worth retrying: etcd (gRPC), Redis, the API server (connection errors and 5xx/429).
TRANSIENT: tuple[type[BaseException], ...] = (
    grpc.RpcError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ConnectionError,
    TimeoutError,
    HTTPError,
)


def backend_of(exc: BaseException) -> str | None:
    """Which backend an exception says is unavailable, or None when it is not an outage."""
    if isinstance(exc, grpc.RpcError):
        return "etcd"
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return "redis"
    if isinstance(exc, ApiException):
        return "kubernetes" if exc.status in (0, 429) or exc.status >= 500 else None
    if isinstance(exc, HTTPError | ConnectionError | TimeoutError):
        return "kubernetes"
    return None


def _retry(task: Task, exc: Exception, what: str) -> Retry:
    backend = backend_of(exc)
    if backend is None:
        metrics.tasks_total.labels(task=what, outcome="failed").inc()
        raise exc
    metrics.backend_errors.labels(backend=backend).inc()
    metrics.tasks_total.labels(task=what, outcome="retried").inc()
    if backend == "etcd":
        runtime.current().reset_etcd()
    retries = task.request.retries
    delay = min(60.0, 0.5 * 2**retries) * (0.5 + (uuid.uuid4().int % 1000) / 1000)
    first_line = (str(exc).splitlines() or [""])[0][:200]
    log.warning(f"{backend} unavailable, retrying {what} in {delay:.1f}s", error=first_line)
    return task.retry(exc=exc, countdown=delay)


# Outages are retried until they end (backoff capped at 60 s); the task itself is idempotent.
@app.task(name="extdns.reconcile", bind=True, acks_late=True, max_retries=None)  # type: ignore[untyped-decorator]
def reconcile_task(self: Task, messages: list[dict[str, Any]]) -> dict[str, int]:
    """Converge the names these objects claim (now and before)."""
    rt = runtime.current()
    try:
        msgs = [Message.parse(m) for m in messages]
        outcome = reconcile(rt, msgs, task_id=self.request.id or "", batch=rt.settings.reconcile_batch)
    except Exception as exc:
        raise _retry(self, exc, "reconcile") from exc
    if outcome.unresolved:  # lost every race for these names: try again later, same task id, same objects
        raise self.retry(countdown=0.2 + (uuid.uuid4().int % 1000) / 1000)
    metrics.tasks_total.labels(task="reconcile", outcome="ok").inc()
    return {"writes": outcome.report.writes, "conflicts": len(outcome.unresolved)}


@app.task(name="extdns.resync", bind=True, acks_late=True)  # type: ignore[untyped-decorator]
def resync_task(self: Task) -> dict[str, int]:
    """A full sync, never two at once: a Redis lock with a TTL; an overrun is reported, not stacked."""
    rt = runtime.current()
    interval = rt.settings.interval
    token = uuid.uuid4().hex
    lock = rt.claims.r
    try:
        if not lock.set(RESYNC_LOCK, token, nx=True, ex=max(60, int(interval * 4))):
            log.warning("Resync skipped: the previous one is still running")
            metrics.tasks_total.labels(task="resync", outcome="skipped").inc()
            return {"writes": 0, "skipped": 1}
        start = time.monotonic()
        try:
            outcome = full_sync(rt)
        finally:
            if lock.get(RESYNC_LOCK) == token.encode():
                lock.delete(RESYNC_LOCK)
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
        log.error(f"Failed to do run once: {backend} unavailable", error=str(exc).splitlines()[0][:200])
        return {"writes": 0, "failed": 1}
    took = time.monotonic() - start
    if took > interval:
        log.warning(f"Resync took {took:.1f}s, longer than --interval {interval:.0f}s")
    metrics.tasks_total.labels(task="resync", outcome="ok").inc()
    return {"writes": outcome.report.writes, "skipped": 0}
