"""Every interleaving of the writers' steps, for a few object histories: no lost update, no stale commit.

A small scheduler runs the writers (the emitter's cluster changes, one reconcile task per change,
and a resync) as threads that stop at every step (take objects + take the view, begin, read the
cluster, commit; the etcd read is at the view's revision, so when it runs changes nothing) and
lets exactly one go on at a time. A depth-first search over the choices runs every
order. After each run: etcd equals the plan of the final cluster, and no commit to a name rested
on a cluster view older than one already committed to it.

The same search over the old order (etcd read after the cluster, no fence) finds violations:
the checker can fail.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from controller.reconcile import Controller, Message, full_sync, reconcile
from controller.refs import ref_key
from extdns.sources import ObjectRef, SourceConfig
from extdns.syncconfig import SyncConfig
from tests.fakes import FakeClaims, FakeCluster, FakeEtcd, FakeStore

PREFIX = "/skydns"
HOSTNAME = "external-dns.alpha.kubernetes.io/hostname"
MAX_RUNS = 20_000


def service(name: str, hostname: str, ip: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "ns", "annotations": {HOSTNAME: hostname}},
        "spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.1"},
        "status": {"loadBalancer": {"ingress": [{"ip": ip}]}},
    }


def ref(name: str) -> ObjectRef:
    return ObjectRef("Service", "ns", name)


@dataclass(frozen=True)
class Change:
    """One change to the cluster, and the object it touches."""

    ref: ObjectRef
    apply: Callable[[FakeCluster], None]


def put(obj: dict[str, Any]) -> Change:
    return Change(FakeCluster.ref(obj), lambda c: c.put(obj))


def delete(name: str) -> Change:
    return Change(ref(name), lambda c: c.delete(ref(name)))


class Deadlock(Exception):
    pass


@dataclass
class Scheduler:
    """Lets one actor thread run at a time; which one follows `choices`, then the first ready."""

    choices: list[int]
    trace: list[tuple[int, int]] = field(default_factory=list)
    cv: threading.Condition = field(default_factory=threading.Condition)
    waiting: dict[str, str] = field(default_factory=dict)
    finished: set[str] = field(default_factory=set)
    errors: list[BaseException] = field(default_factory=list)
    granted: str | None = None
    last: dict[str, str] = field(default_factory=dict)
    steps: list[str] = field(default_factory=list)  # who ran which step, in order (for failure messages)

    def gate(self, step: str) -> None:
        me = threading.current_thread().name
        last, self.last[me] = self.last.get(me), step
        if step == "begin" and last in ("take", "retry"):
            return  # a task takes its view right after taking its objects: one step (locks are not etcd)
        with self.cv:
            self.waiting[me] = step
            self.cv.notify_all()
            while self.granted != me:
                self.cv.wait()
            self.granted = None
            del self.waiting[me]

    def run(self, actors: dict[str, Callable[[], None]], enabled: Callable[[str, str], bool]) -> None:
        def body(name: str, fn: Callable[[], None]) -> None:
            try:
                fn()
            except BaseException as exc:  # reported to the test
                self.errors.append(exc)
            finally:
                with self.cv:
                    self.finished.add(name)
                    self.cv.notify_all()

        threads = [threading.Thread(target=body, args=(n, f), name=n, daemon=True) for n, f in actors.items()]
        for t in threads:
            t.start()
        order = list(actors)
        with self.cv:
            while len(self.finished) < len(actors):
                # Wait until the actor that was let go stops again (or ends), and every other one is parked.
                while self.granted is not None or len(self.waiting) + len(self.finished) < len(actors):
                    self.cv.wait()
                if len(self.finished) == len(actors):
                    break
                ready = [a for a in order if a in self.waiting and enabled(a, self.waiting[a])]
                if not any(self.waiting[a] != "retry" for a in ready):
                    pass  # only retries left: let them go
                else:
                    ready = [a for a in ready if self.waiting[a] != "retry"]
                if not ready:
                    raise Deadlock(f"nobody can run: {self.waiting}")
                i = len(self.trace)
                pick = self.choices[i] if i < len(self.choices) else 0
                self.trace.append((pick, len(ready)))
                self.granted = ready[pick]
                self.steps.append(f"{self.granted}:{self.waiting[self.granted]}")
                self.cv.notify_all()
        for t in threads:
            t.join(5)


@dataclass
class World:
    """One run: fresh fakes seeded with the initial cluster (already published), the writers, the checks."""

    initial: list[dict[str, Any]]
    changes: list[Change]
    resync: bool
    unfenced: bool = False
    violations: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.etcd = FakeEtcd()
        self.cluster = FakeCluster(self.initial)
        self.claims = FakeClaims()
        self.store = FakeStore(self.etcd, PREFIX, unfenced=self.unfenced)
        self.cfg = SyncConfig(owner_id="test", prefix=PREFIX)
        full_sync(self.controller())  # the starting point: the initial cluster is published
        self.view: dict[str, int] = {}  # actor -> oldest cluster version read in its current round
        self.committed: dict[str, int] = {}  # name -> newest view committed to it
        self.done: set[int] = set()  # changes made

    def controller(self) -> Controller:
        return Controller(self.store, self.cluster, self.claims, self.cfg, SourceConfig(), ("service",))

    # ------------------------------------------------------------ the checks, wired into the fakes

    def _begin(self, step: str) -> None:
        if step == "begin":
            self.view.pop(threading.current_thread().name, None)

    def _read(self, version: int) -> None:
        me = threading.current_thread().name
        self.view[me] = min(self.view.get(me, version), version)

    def _commit(self, name: str) -> None:
        me = threading.current_thread().name
        seen = self.view.get(me, -1)
        if seen < self.committed.get(name, -1):
            self.violations.append(f"{me} committed {name} from cluster v{seen} over v{self.committed[name]}")
        self.committed[name] = max(seen, self.committed.get(name, -1))

    def wire(self, sched: Scheduler) -> None:
        def store_gate(step: str) -> None:
            self._begin(step)
            sched.gate(step)

        self.store.gate = store_gate
        self.store.on_commit = self._commit
        self.cluster.gate = sched.gate
        self.cluster.on_read = self._read
        self.claims.gate = sched.gate

    # ------------------------------------------------------------ the writers

    def actors(self, sched: Scheduler) -> dict[str, Callable[[], None]]:
        ctl = self.controller()
        out: dict[str, Callable[[], None]] = {}

        def change(k: int) -> None:
            self.changes[k].apply(self.cluster)
            self.claims.mark_pending(ref_key(self.changes[k].ref))
            self.done.add(k)

        def emitter() -> None:
            for k in range(len(self.changes)):
                sched.gate("kube")
                change(k)

        def task(k: int) -> Callable[[], None]:
            def run() -> None:
                for _ in range(20):
                    outcome = reconcile(ctl, [Message(self.changes[k].ref)], task_id=f"t{k}")
                    if not outcome.blocked and not outcome.unresolved:
                        return
                raise AssertionError(f"reconcile-{k} never finished")

            return run

        out["emitter"] = emitter
        for k in range(len(self.changes)):
            out[f"reconcile-{k}"] = task(k)
        if self.resync:
            out["resync"] = lambda: full_sync(ctl) and None
        return out

    def enabled(self, actor: str, step: str) -> bool:
        if actor.startswith("reconcile-"):
            return int(actor.split("-")[1]) in self.done  # its message exists once its change was made
        return True

    def expected(self) -> dict[str, bytes]:
        """What a single writer publishes for the final cluster, from an empty etcd."""
        etcd = FakeEtcd()
        store = FakeStore(etcd, PREFIX)
        cluster = FakeCluster(self.cluster.objects.values())
        full_sync(Controller(store, cluster, FakeClaims(), self.cfg, SourceConfig(), ("service",)))
        return etcd.records(PREFIX)


def explore(make: Callable[[], World]) -> Iterator[tuple[World, list[tuple[int, int]]]]:
    """Every schedule, depth first: replay a prefix of choices, then branch at the last open choice."""
    prefix: list[int] = []
    for _ in range(MAX_RUNS):
        world = make()
        sched = Scheduler(list(prefix))
        world.wire(sched)
        sched.run(world.actors(sched), world.enabled)
        if sched.errors:
            raise sched.errors[0]
        world.steps = sched.steps
        yield world, sched.trace
        trace = sched.trace
        while trace and trace[-1][0] + 1 >= trace[-1][1]:
            trace = trace[:-1]
        if not trace:
            return
        prefix = [c for c, _ in trace[:-1]] + [trace[-1][0] + 1]
    raise AssertionError(f"more than {MAX_RUNS} schedules: make the history smaller")


A = "web.example.org"
B = "shop.example.org"
HISTORIES: dict[str, tuple[list[dict[str, Any]], list[Change]]] = {
    "create": ([], [put(service("web", A, "10.0.0.1"))]),
    "address change": ([service("web", A, "10.0.0.1")], [put(service("web", A, "10.0.0.2"))]),
    "delete": ([service("web", A, "10.0.0.1")], [delete("web")]),
    "hostname change": ([service("web", A, "10.0.0.1")], [put(service("web", B, "10.0.0.1"))]),
    "two objects on one name": (
        [service("web", A, "10.0.0.1"), service("web2", A, "10.0.0.2")],
        [delete("web2")],
    ),
    "create then delete": ([], [put(service("web", A, "10.0.0.1")), delete("web")]),
    "two address changes": (
        [service("web", A, "10.0.0.1")],
        [put(service("web", A, "10.0.0.2")), put(service("web", A, "10.0.0.3"))],
    ),
}


@pytest.mark.parametrize("resync", [True, False], ids=["with-resync", "reconciles-only"])
@pytest.mark.parametrize("history", list(HISTORIES))
def test_every_interleaving_ends_in_the_plan_of_the_final_cluster(history: str, resync: bool) -> None:
    initial, changes = HISTORIES[history]
    runs = 0
    for world, _ in explore(lambda: World(initial, changes, resync)):
        runs += 1
        assert not world.violations, (world.steps, world.violations)
        assert world.etcd.records(PREFIX) == world.expected(), world.steps
    assert runs > 1 or not (resync or len(changes) > 1), "the writers never overlapped"


@pytest.mark.parametrize("history", ["create", "delete", "two objects on one name"])
def test_the_checker_catches_the_unfenced_order(history: str) -> None:
    """Reading etcd after the cluster, without fences, loses updates in some interleaving."""
    initial, changes = HISTORIES[history]
    for world, _ in explore(lambda: World(initial, changes, True, unfenced=True)):
        if world.violations or world.etcd.records(PREFIX) != world.expected():
            return
    raise AssertionError("the old order should lose an update in some interleaving")


def test_a_full_sync_counts_refusals_in_the_owner_mismatch_gauge_with_bounded_labels() -> None:
    from process import metrics

    world = World([service("web", A, "10.0.0.1")], [], resync=False)
    # Another owner holds shop.example.org; our Service wants it too.
    world.etcd.commit(
        __import__("extdns.fencing", fromlist=["NameTxn"]).NameTxn(
            "seed",
            (),
            (
                (f"{PREFIX}/org/example/shop/1a2b3c4d", b'{"host":"192.0.2.9","targetstrip":1}'),
                (f"{PREFIX}/org/example/a-shop/5e6f7a8b", b'{"text":"\\"heritage=external-dns,external-dns/owner=other\\"","targetstrip":1}'),
            ),
            (),
            "",
        )
    )
    world.cluster.put(service("shop", B, "10.0.0.5"))
    full_sync(world.controller())
    value = metrics.skipped_owner_mismatch.labels(
        record_type="A", owner="test", foreign_owner="other", domain="example.org"
    )._value.get()
    assert value == 1
    assert world.etcd.records(PREFIX)[f"{PREFIX}/org/example/shop/1a2b3c4d"], "theirs is untouched"
