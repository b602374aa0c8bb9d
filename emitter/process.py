"""The watch emitter: list+watch what DNS names depend on; queue one small JSON message per changed object.

Exactly one emitter publishes: the holder of a coordination.k8s.io/v1 Lease. Messages are hints
(`{kind, namespace, name, uid, resourceVersion, type, seen}`); a worker re-reads the object. An
object that already has a message waiting is not queued again (coalescing through Redis).
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import MaxRetryError, ReadTimeoutError

from adapters.kube_api import RESOURCES, Kube, KubeObject
from adapters.kube_cluster import CLUSTER_WIDE, kinds_for
from adapters.outages import backend_of
from controller.reconcile import Message
from controller.refs import ref_key
from emitter.discovery import Discovery
from emitter.routes import RouteIndex
from extdns.sources import ObjectRef
from extdns.sources.gateway import ROUTE_KINDS
from process import health, metrics
from process.backoff import Backoff
from process.logs import log
from process.resources import Runtime
from tasks.app import app

WATCH_TIMEOUT = 60  # seconds a watch request lasts; also how long a stepped-down watcher may linger


# ---------------------------------------------------------------- leader election


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(stamp: str) -> float:
    return datetime.strptime(stamp.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


@dataclass
class Lease:
    """Leader election on a coordination.k8s.io/v1 Lease, with optimistic concurrency on resourceVersion."""

    kube: Kube
    namespace: str
    name: str
    duration: float
    identity: str = field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    )

    @property
    def path(self) -> str:
        return f"/apis/coordination.k8s.io/v1/namespaces/{self.namespace}/leases"

    def _body(self, rv: str = "", transitions: int = 0, acquire: str = "") -> KubeObject:
        meta: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if rv:
            meta["resourceVersion"] = rv
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": meta,
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": max(1, int(self.duration)),
                "acquireTime": acquire or _now(),
                "renewTime": _now(),
                "leaseTransitions": transitions,
            },
        }

    def try_acquire(self) -> bool:
        """Take or renew the lease; False when someone else holds an unexpired one or a race was lost."""
        try:
            current = self.kube.request("GET", f"{self.path}/{self.name}")
        except ApiException as e:
            if e.status != 404:
                raise
            try:
                self.kube.request("POST", self.path, self._body())
                return True
            except ApiException as conflict:
                if conflict.status == 409:
                    return False
                raise
        spec = current.get("spec") or {}
        holder = spec.get("holderIdentity", "")
        renewed = spec.get("renewTime") or spec.get("acquireTime")
        expired = not renewed or _parse(renewed) + float(spec.get("leaseDurationSeconds", 0)) < time.time()
        if holder and holder != self.identity and not expired:
            return False
        ours = holder == self.identity
        body = self._body(
            current["metadata"]["resourceVersion"],
            int(spec.get("leaseTransitions", 0)) + (0 if ours else 1),
            spec.get("acquireTime", "") if ours else "",
        )
        try:
            self.kube.request("PUT", f"{self.path}/{self.name}", body)
        except ApiException as e:
            if e.status == 409:
                return False
            raise
        return True

    def release(self) -> None:
        """Give the lease up so a standby takes over at once."""
        try:
            current = self.kube.request("GET", f"{self.path}/{self.name}")
            if (current.get("spec") or {}).get("holderIdentity") == self.identity:
                current["spec"]["holderIdentity"] = ""
                current["spec"]["leaseDurationSeconds"] = 1
                self.kube.request("PUT", f"{self.path}/{self.name}", current)
        except (ApiException, OSError) as e:
            log.warning("could not release the lease", error=str(e).splitlines()[0])


# ---------------------------------------------------------------- mapping events to objects


def _meta(obj: KubeObject) -> tuple[str, str, str]:
    m = obj.get("metadata") or {}
    return m.get("namespace", ""), m.get("name", ""), m.get("uid", "")


@dataclass
class ServiceIndex:
    """What the emitter remembers of Services to map Pod, EndpointSlice and Node events back to them."""

    selectors: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    node_dependent: set[tuple[str, str]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def update(self, svc: KubeObject, deleted: bool) -> None:
        ns, name, _ = _meta(svc)
        spec = svc.get("spec") or {}
        annotations = (svc.get("metadata") or {}).get("annotations") or {}
        with self.lock:
            key = (ns, name)
            self.selectors.pop(key, None)
            self.node_dependent.discard(key)
            if deleted:
                return
            if spec.get("clusterIP") == "None" or spec.get("type") == "NodePort":
                self.selectors[key] = dict(spec.get("selector") or {})
            if spec.get("type") == "NodePort" or any(k.endswith("/endpoints-type") for k in annotations):
                self.node_dependent.add(key)

    def services_of_pod(self, pod: KubeObject) -> list[tuple[str, str]]:
        ns, _, _ = _meta(pod)
        labels = (pod.get("metadata") or {}).get("labels") or {}
        with self.lock:
            return [
                key
                for key, sel in self.selectors.items()
                if key[0] == ns and sel and sel.items() <= labels.items()
            ]

    def services_of_nodes(self) -> list[tuple[str, str]]:
        with self.lock:
            return sorted(self.node_dependent)


OWN_KINDS = frozenset({"Service", "Ingress", "DNSEndpoint", *ROUTE_KINDS})  # objects that claim names


def affected(
    kind: str, obj: KubeObject, services: ServiceIndex, routes: RouteIndex | None = None
) -> list[ObjectRef]:
    """The objects (Services, Ingresses, routes, DNSEndpoints) whose records an event on it may change."""
    ns, name, uid = _meta(obj)
    if kind in OWN_KINDS:
        return [ObjectRef(kind, ns, name, uid)]
    if kind == "Gateway":
        return routes.routes_of_gateway(ns, name) if routes is not None else []
    if kind == "ListenerSet":
        return routes.routes_of_listener_set(ns, name) if routes is not None else []
    if kind == "Namespace":
        return routes.routes_of_namespace(name) if routes is not None else []
    if kind == "EndpointSlice":
        svc = ((obj.get("metadata") or {}).get("labels") or {}).get("kubernetes.io/service-name")
        return [ObjectRef("Service", ns, svc)] if svc else []
    if kind == "Pod":
        return [ObjectRef("Service", n, s) for n, s in services.services_of_pod(obj)]
    if kind == "Node":
        return [ObjectRef("Service", n, s) for n, s in services.services_of_nodes()]
    return []


# ---------------------------------------------------------------- watching


def _read_timeout(exc: BaseException) -> bool:
    """urllib3's read timeout, alone or as the reason its retries gave up."""
    return isinstance(exc, ReadTimeoutError) or (
        isinstance(exc, MaxRetryError) and isinstance(exc.reason, ReadTimeoutError)
    )


class Gone(Exception):
    """The watch's resourceVersion is too old (410): relist."""


def watch_events(
    kube: Kube, kind: str, rv: str, namespace: str, idle: float
) -> Iterator[tuple[str, KubeObject]]:
    for event in kube.watch(kind, rv, WATCH_TIMEOUT, namespace, idle=idle):
        etype, obj = event.get("type", ""), event.get("object") or {}
        if etype == "ERROR":
            if obj.get("code") == 410:
                raise Gone(obj.get("message", "410 Gone"))
            raise ApiException(status=int(obj.get("code") or 500), reason=obj.get("message", "watch error"))
        yield etype, obj


@dataclass
class Watcher:
    """List then watch one kind; relist on 410 Gone; reconnect with backoff; never exits until stopped."""

    kube: Kube
    kind: str
    namespace: str
    emit: Callable[[str, str, KubeObject], None]  # (kind, event type, object)
    stop: threading.Event
    versions: dict[str, str] = field(default_factory=dict)  # object key -> resourceVersion
    listed: threading.Event = field(default_factory=threading.Event)  # set once the first list is in
    idle: float = 130.0  # no byte (event, bookmark, end of watch) for this long: the watch is hung
    last_seen: float = field(default_factory=time.monotonic)  # last sign of life of the watch
    publish_first: bool = False  # the first list is news (a kind that appeared mid-term), not a cache warm-up

    def stale(self) -> str | None:
        """A line saying the watch is silent for too long, or None."""
        quiet = time.monotonic() - self.last_seen
        return f"watch of {self.kind} silent for {quiet:.0f}s" if quiet > self.idle else None

    @property
    def scope(self) -> str:
        """The namespace to list and watch (--namespace); Nodes, Namespaces, Gateways, ListenerSets: all."""
        return "" if self.kind in CLUSTER_WIDE else self.namespace

    def _relist(self, first: bool) -> str:
        items, rv = self.kube.list(self.kind, self.scope)
        seen: dict[str, str] = {}
        for obj in items:
            ns, name, _ = _meta(obj)
            key = f"{ns}/{name}"
            seen[key] = (obj.get("metadata") or {}).get("resourceVersion", "")
            if first:
                # warm caches; not published (the resync covers start-up), unless the kind is new
                self.emit(self.kind, "ADDED" if self.publish_first else "SYNC", obj)
            elif self.versions.get(key) != seen[key]:
                self.emit(self.kind, "MODIFIED", obj)
        if not first:
            for key in set(self.versions) - set(seen):
                ns, _, name = key.partition("/")
                self.emit(
                    self.kind, "DELETED", {"kind": self.kind, "metadata": {"namespace": ns, "name": name}}
                )
        self.versions.clear()
        self.versions.update(seen)
        return rv

    def run(self) -> None:
        backoff = Backoff()
        # A watcher of an earlier leadership term left `versions`: relist against them and publish the diff.
        rv, first, failing = "", not self.versions, False
        while not self.stop.is_set():
            try:
                if not rv:
                    rv = self._relist(first)
                    first = False
                    self.listed.set()
                    self.last_seen = time.monotonic()
                for etype, obj in watch_events(self.kube, self.kind, rv, self.scope, self.idle):
                    self.last_seen = time.monotonic()
                    rv = (obj.get("metadata") or {}).get("resourceVersion", rv)
                    if etype != "BOOKMARK":
                        ns, name, _ = _meta(obj)
                        if etype == "DELETED":
                            self.versions.pop(f"{ns}/{name}", None)
                        else:
                            self.versions[f"{ns}/{name}"] = rv
                        self.emit(self.kind, etype, obj)
                    if self.stop.is_set():
                        return
                self.last_seen = time.monotonic()  # the server ended the watch: alive
                if failing:
                    log.info(f"watch of {self.kind} recovered")
                    failing = False
                backoff.reset()
            except Gone:
                metrics.watch_restarts.labels(kind=self.kind, reason="gone").inc()
                log.info(f"watch of {self.kind}: resourceVersion too old, relisting")
                rv = ""
            except Exception as exc:
                if isinstance(exc, ApiException) and exc.status == 404 and RESOURCES[self.kind].optional:
                    # Its CRD went away; discovery stops this watch. Until then, quietly.
                    if not failing:
                        log.info(f"watch of {self.kind}: not served any more (CRD removed?)")
                        failing = True
                    rv = ""
                    self.stop.wait(backoff.next())
                    continue
                if _read_timeout(exc):
                    metrics.watch_restarts.labels(kind=self.kind, reason="stale").inc()
                    log.warning(
                        f"watch of {self.kind} silent for {self.idle:.0f}s (hung connection); restarting"
                    )
                    self.stop.wait(backoff.next())
                    continue
                backend = backend_of(exc) or "kubernetes"
                metrics.watch_restarts.labels(kind=self.kind, reason="error").inc()
                metrics.backend_errors.labels(backend=backend).inc()
                if not failing:
                    log.warning(
                        f"watch of {self.kind} failed, retrying", error=str(exc).splitlines()[0][:200]
                    )
                    failing = True
                if isinstance(exc, ApiException) and exc.status == 410:
                    rv = ""
                self.stop.wait(backoff.next())


# ---------------------------------------------------------------- publishing


def fault_point(name: str) -> None:
    """Die here when EXTDNS_FAULT names this point: how tests kill the emitter between two steps."""
    if os.environ.get("EXTDNS_FAULT") == name:
        log.warning(f"fault injected at {name}: exiting")
        os._exit(137)


@dataclass
class Publisher:
    """Batches messages (a few ms or N objects), coalesces per object in Redis, publishes; retries Redis."""

    rt: Runtime
    stop: threading.Event
    q: queue.Queue[Message] = field(default_factory=queue.Queue)
    linger: float = 0.0  # the current linger: the setting when events are sparse, up to 4x it in a stream
    last: float = 0.0  # when the last batch was closed

    def _linger(self, now: float) -> float:
        """Double the linger while batches follow each other closely; back to the setting after a pause.

        A lone event waits only the setting; a stream of them is published in fewer, larger batches
        (fewer tasks, each taking more objects), at most 4x the setting later.
        """
        base = self.rt.settings.emitter_batch_linger
        busy = now - self.last < 4 * base
        self.linger = min(4 * base, max(base, self.linger) * 2) if busy else base
        return self.linger

    def _batch(self) -> list[Message]:
        try:
            first = self.q.get(timeout=0.5)
        except queue.Empty:
            return []
        batch = {ref_key(first.ref): first}
        deadline = time.monotonic() + self._linger(time.monotonic())
        while len(batch) < self.rt.settings.emitter_batch_size:
            try:
                m = self.q.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            batch.setdefault(ref_key(m.ref), m)
        self.last = time.monotonic()
        return list(batch.values())

    def run(self) -> None:
        """Mark, then publish what the mark says is new; a failed publish is retried, never re-marked.

        The two steps are not one Redis operation: a publisher that dies between them leaves marks
        without a message. Those marks expire (`--pending-expiry`), so the next event for such an
        object publishes again; its state is converged by the resync meanwhile.
        """
        backoff = Backoff()
        pending: list[Message] = []
        send: list[Message] | None = None  # marked as new, not yet published
        failing = False
        # On step-down, what is already queued is still published (a duplicate hint is harmless).
        while not self.stop.is_set() or pending or not self.q.empty():
            if not pending:
                pending = self._batch()
                if not pending:
                    continue
            try:
                if send is None:
                    fresh = self.rt.claims.mark_pending([ref_key(m.ref) for m in pending])
                    send = [m for m, new in zip(pending, fresh, strict=True) if new]
                    for m in pending:
                        counter = metrics.events_enqueued if m in send else metrics.events_coalesced
                        counter.labels(kind=m.ref.kind).inc()
                    fault_point("after-mark")
                if send:
                    app.send_task("extdns.reconcile", args=[[m.dump() for m in send]])
                pending, send = [], None
                backoff.reset()
                if failing:
                    log.info("redis reachable again, publishing")
                    failing = False
            except Exception as exc:
                metrics.backend_errors.labels(backend="redis").inc()
                if not failing:
                    log.warning("redis unavailable, holding messages", error=str(exc).splitlines()[0][:200])
                    failing = True
                if self.stop.wait(backoff.next()):
                    return


# ---------------------------------------------------------------- the process


def run(rt: Runtime) -> int:
    """Stand by until this process holds the lease, then watch and publish; step down when it is lost."""
    s = rt.settings
    health.serve(s.metrics_address)
    lease = Lease(rt.kube, s.leader_election_namespace, s.leader_election_lease, s.leader_election_duration)
    shutdown = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("Received SIGTERM. Terminating...")
        shutdown.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("emitter started", identity=lease.identity, lease=f"{lease.namespace}/{lease.name}")
    renew = max(0.5, s.leader_election_duration / 3)
    retry = min(
        2.0, renew
    )  # a standby looks this often (client-go's RetryPeriod): a released lease is taken soon
    known: dict[str, dict[str, str]] = {}  # kind -> object -> resourceVersion, kept across terms
    while not shutdown.is_set():
        try:
            leading = lease.try_acquire()
        except Exception as exc:
            metrics.backend_errors.labels(backend="kubernetes").inc()
            log.warning("lease unavailable, retrying", error=str(exc).splitlines()[0][:200])
            leading = False
        if leading:
            lead(rt, lease, renew, shutdown, known)
        else:
            shutdown.wait(retry)
    return 0


def lead(
    rt: Runtime, lease: Lease, renew: float, shutdown: threading.Event, known: dict[str, dict[str, str]]
) -> None:
    """Watch and publish while the lease is ours."""
    log.info("acquired the lease; listing", identity=lease.identity)
    metrics.leader.set(1)
    stop = threading.Event()
    services = ServiceIndex()
    routes = RouteIndex()
    publisher = Publisher(rt, stop)

    def emit(kind: str, etype: str, obj: KubeObject) -> None:
        metrics.events_seen.labels(kind=kind, type=etype).inc()
        if kind == "Service":
            services.update(obj, etype == "DELETED")
        elif kind in ROUTE_KINDS:
            routes.update_route(kind, obj, etype == "DELETED")
        elif kind == "Gateway":
            routes.update_gateway(obj, etype == "DELETED")
        elif kind == "ListenerSet":
            routes.update_listener_set(obj, etype == "DELETED")
        if etype == "SYNC":
            return
        seen = time.time()
        rv = (obj.get("metadata") or {}).get("resourceVersion", "")
        for ref in affected(kind, obj, services, routes):
            publisher.q.put(Message(ref, seen, rv if ref.kind == kind else "", etype))

    threads = [threading.Thread(target=publisher.run, name="publisher", daemon=True)]
    watchers: dict[str, tuple[Watcher, threading.Event, threading.Thread]] = {}
    watchers_lock = threading.Lock()

    def start_watch(kind: str, late: bool = False) -> None:
        halt = threading.Event()  # this watch's own stop: leadership ends, or its kind went away
        w = Watcher(
            rt.kube,
            kind,
            rt.settings.namespace,
            emit,
            halt,
            known.setdefault(kind, {}),
            idle=rt.settings.watch_idle_timeout,
            publish_first=late,
        )
        t = threading.Thread(target=w.run, name=f"watch-{kind}", daemon=True)
        with watchers_lock:
            if stop.is_set():
                return
            watchers[kind] = (w, halt, t)
        t.start()

    def stop_watch(kind: str) -> None:
        with watchers_lock:
            found = watchers.pop(kind, None)
        if found is not None:
            found[1].set()

    def current() -> list[Watcher]:
        with watchers_lock:
            return [w for w, _, _ in watchers.values()]

    kinds = kinds_for(rt.sources, rt.source_config)  # ListenerSets only with --gateway-listener-sets
    optional = [k for k in kinds if RESOURCES[k].optional]
    discovery = Discovery(rt.kube, optional, start_watch, stop_watch, stop)

    def watches_alive() -> str | None:
        stale = [s for w in current() if (s := w.stale())]
        return "; ".join(stale) or None

    health.CHECKS["watches"] = watches_alive

    def announce() -> None:
        # Changes after the first lists are watched; before them, the resync asked for below.
        while not discovery.ready.wait(0.1):
            if stop.is_set():
                return
        for w in current():
            while not w.listed.wait(0.1):
                if stop.is_set():
                    return
        log.info("became the leader; watching", identity=lease.identity)
        # What changed after the previous leader's last publish is in these first lists, not known as
        # changed: one resync now, rather than at beat's next tick (a resync already running wins).
        backoff = Backoff()
        while not stop.is_set():
            try:
                app.send_task("extdns.resync", expires=rt.settings.interval)
                return
            except Exception as exc:
                metrics.backend_errors.labels(backend="redis").inc()
                log.warning("could not ask for a resync, retrying", error=str(exc).splitlines()[0][:200])
                stop.wait(backoff.next())

    threads.append(threading.Thread(target=announce, name="announce", daemon=True))
    if optional:
        threads.append(threading.Thread(target=discovery.run, name="discovery", daemon=True))
    else:
        discovery.ready.set()
    for kind in kinds:
        if not RESOURCES[kind].optional:
            start_watch(kind)
    for t in threads:
        t.start()
    last_renewed = time.monotonic()
    try:
        while not shutdown.wait(renew):
            try:
                if not lease.try_acquire():
                    log.warning("lost the lease; standing by")
                    break
                last_renewed = time.monotonic()
            except Exception as exc:
                log.warning("lease renewal failed", error=str(exc).splitlines()[0][:200])
                if time.monotonic() - last_renewed > lease.duration:
                    log.warning("lease expired while the API server was unreachable; standing by")
                    break
    finally:
        with watchers_lock:
            stop.set()
            running = list(watchers.values())
        for _, halt, _ in running:
            halt.set()
        health.CHECKS.pop("watches", None)  # a standby watches nothing: nothing can be stale
        metrics.leader.set(0)
        # Hand over first: the threads may sit in a blocking read for seconds, and whatever they still
        # publish is safe to publish twice (a task reads the object when it runs).
        if shutdown.is_set():
            lease.release()
        deadline = time.monotonic() + 5
        for t in [*threads, *(t for _, _, t in running)]:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
