"""In-memory stand-ins for the controller's ports (etcd, the cluster, the claims index), for unit tests.

`FakeEtcd` is a tiny MVCC store: every commit makes a new revision and old revisions stay readable,
so a writer can read "at its view" as the real adapter does. Every port call can pass through a
`gate` first: the interleaving scheduler uses it to decide which writer runs next.
"""

from __future__ import annotations

import copy
import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from controller.ports import ApplyReport, RecordsState, Snapshot, View
from controller.refs import ref_key
from extdns.fencing import GUARD_ROOT, NameTxn, rebase
from extdns.sources import Cluster, ObjectRef
from extdns.stored import KeyValue

Gate = Callable[[str], None]


def _no_gate(step: str) -> None:
    pass


class FakeEtcd:
    """Every revision's whole key space (tests hold few keys), and which writer committed what."""

    def __init__(self) -> None:
        self.states: list[dict[str, tuple[bytes, int]]] = [{}]
        self.lock = threading.Lock()

    @property
    def revision(self) -> int:
        return len(self.states) - 1

    def at(self, revision: int) -> dict[str, tuple[bytes, int]]:
        return self.states[revision]

    def now(self) -> dict[str, tuple[bytes, int]]:
        return self.states[-1]

    def commit(self, txn: NameTxn) -> bool:
        with self.lock:
            state = self.now()
            if any((state[k][1] if k in state else 0) != rev for k, rev in txn.compares):
                return False
            new = dict(state)
            rev = self.revision + 1
            for k in txn.deletes:
                new.pop(k, None)
            for k, v in txn.puts:
                new[k] = (v, rev)
            self.states.append(new)
            return True

    def records(self, prefix: str) -> dict[str, bytes]:
        """The record keys (no fences) and their values, now."""
        return {k: v for k, (v, _) in self.now().items() if k.startswith(prefix + "/")}


@dataclass
class FakeStore:
    """The record-store port over FakeEtcd.

    `unfenced` reads the newest revision and drops the guards: the old, broken order, kept so the
    tests can show they catch it.
    """

    etcd: FakeEtcd
    prefix: str
    gate: Gate = _no_gate
    unfenced: bool = False
    on_commit: Callable[[str], None] = lambda name: None

    def begin(self) -> View:
        self.gate("begin")
        return View(self.etcd.revision, time.monotonic())

    def read(self, view: View, keys: Sequence[str] | None = None, fences: Sequence[str] = ()) -> Snapshot:
        if self.unfenced:  # reading at the view's revision returns the same whenever it runs: no step
            self.gate("etcd-read")
        state = self.etcd.now() if self.unfenced else self.etcd.at(view.revision)
        if keys is None:
            wanted = [k for k in state if k.startswith(self.prefix + "/")]
            fence_keys = [k for k in state if k.startswith(GUARD_ROOT)]
        else:
            wanted = [
                k
                for k in state
                for key in keys
                if k == key or (k.startswith(key + "/") and "/" not in k[len(key) + 1 :])
            ]
            fence_keys = [f for f in fences if f in state]
        kvs = [KeyValue(k, state[k][0], state[k][1]) for k in sorted(set(wanted))]
        return Snapshot(kvs, {} if self.unfenced else {f: state[f][1] for f in fence_keys})

    def state(self) -> RecordsState:
        now = self.etcd.now()
        return RecordsState.of(
            [KeyValue(k, v, rev) for k, (v, rev) in now.items() if k.startswith(self.prefix + "/")]
        )

    def apply(self, txns: Sequence[NameTxn]) -> ApplyReport:
        self.gate("commit")
        report = ApplyReport(txns=len(txns))
        moved: dict[str, int] = {}
        for t in txns:
            t = rebase(t, moved)
            if self.unfenced:
                kept = tuple(c for c in t.compares if not c[0].startswith(GUARD_ROOT))
                t = NameTxn(t.name, kept, t.puts, t.deletes, t.fence)
            if self.etcd.commit(t):
                moved.update({k: self.etcd.revision for k, _ in t.puts})
                moved.update(dict.fromkeys(t.deletes, 0))
                self.on_commit(t.name)
                if t.writes:
                    report.applied.append(t.name)
                report.puts += t.writes - len(t.deletes)
                report.deletes += len(t.deletes)
            else:
                report.conflicts.append(t.name)
        return report


class FakeCluster:
    """The cluster port: objects by ref, a version that moves with every change, reads that copy."""

    def __init__(self, objects: Iterable[dict[str, Any]] = (), gate: Gate = _no_gate) -> None:
        self.objects: dict[ObjectRef, dict[str, Any]] = {}
        self.version = 0
        self.gate = gate
        self.on_read: Callable[[int], None] = lambda version: None
        self.observed: list[ObjectRef] = []  # status writes, in order
        self.unchanged_checks = 0
        for obj in objects:
            self.put(obj)

    @staticmethod
    def ref(obj: Mapping[str, Any]) -> ObjectRef:
        return ObjectRef(obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])

    def put(self, obj: dict[str, Any]) -> None:
        self.objects[self.ref(obj)] = copy.deepcopy(obj)
        self.version += 1

    def delete(self, ref: ObjectRef) -> None:
        self.objects.pop(ref, None)
        self.version += 1

    def read_all(self) -> Cluster:
        self.gate("cluster-read")
        self.on_read(self.version)
        return Cluster.from_objects(copy.deepcopy(list(self.objects.values())))

    def fingerprint(self, previous: Cluster) -> str:
        return hashlib.sha256(repr(previous).encode()).hexdigest()

    def matches(self, fingerprint: str) -> bool:
        self.gate("cluster-read")
        self.unchanged_checks += 1
        return self.fingerprint(Cluster.from_objects(copy.deepcopy(list(self.objects.values())))) == fingerprint

    def read_some(self, refs: Iterable[ObjectRef]) -> list[dict[str, Any]]:
        self.gate("cluster-read")
        self.on_read(self.version)
        wanted = {ObjectRef(r.kind, r.namespace, r.name) for r in refs}
        return [copy.deepcopy(o) for ref, o in self.objects.items() if ref in wanted]

    def observe(self, objects: Sequence[dict[str, Any]]) -> None:
        """As the status subresource: only `status.observedGeneration` changes, and only if the object did not."""
        for obj in objects:
            ref = self.ref(obj)
            held = self.objects.get(ref)
            version = obj["metadata"].get("resourceVersion")
            if held is None or held["metadata"].get("resourceVersion") != version:
                continue
            self.observed.append(ref)
            held.setdefault("status", {})["observedGeneration"] = obj["metadata"].get("generation")


@dataclass
class Taken:
    held: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)


class FakeClaims:
    """The claims index, the pending set and the object locks, as `adapters.redis_claims.Claims` keeps them in Redis."""

    def __init__(self, gate: Gate = _no_gate) -> None:
        self.clock = 0.0
        self.names: dict[str, dict[str, float]] = {}  # ref key -> name -> when
        self.pending: set[str] = set()
        self.locks: dict[str, str] = {}
        self.inflight: dict[str, set[str]] = {}
        self.noop: dict[str, str] = {}
        self.gate = gate

    def now(self) -> float:
        self.clock += 1
        return self.clock

    def mark_pending(self, key: str) -> None:
        self.pending.add(key)

    def take(self, task_id: str, own: list[str], extra: int) -> Taken:
        self.gate("retry" if task_id in self.inflight else "take")
        mine = self.inflight.setdefault(task_id, set())
        out = Taken()
        for key in own:
            if key in self.pending:
                if self.locks.get(key, task_id) != task_id:
                    out.blocked.append(key)
                    continue
                self.pending.discard(key)
                self.locks[key] = task_id
                mine.add(key)
        out.held = sorted(mine)
        return out

    def done(self, task_id: str) -> None:
        for key in self.inflight.pop(task_id, set()):
            if self.locks.get(key) == task_id:
                del self.locks[key]

    def names_of(self, refs: Iterable[ObjectRef]) -> dict[ObjectRef, set[str]]:
        return {r: set(self.names.get(ref_key(r), {})) for r in refs}

    def claimants(self, names: Iterable[str]) -> set[ObjectRef]:
        wanted = set(names)
        out = set()
        for key, claimed in self.names.items():
            if wanted & set(claimed):
                kind, ns, name = key.split("/", 2)
                out.add(ObjectRef(kind, ns, name))
        return out

    def add(self, claims: Mapping[ObjectRef, Iterable[str]]) -> None:
        at = self.now()
        for ref, names in claims.items():
            mine = self.names.setdefault(ref_key(ref), {})
            for n in names:
                mine[n] = max(mine.get(n, at), at)

    def prune(
        self, now: Mapping[ObjectRef, Iterable[str]], before: Mapping[ObjectRef, Iterable[str]]
    ) -> None:
        for ref, names in now.items():
            mine = self.names.get(ref_key(ref), {})
            for gone in set(before.get(ref, ())) - set(names):
                mine.pop(gone, None)

    def rebuild(self, claims: Mapping[ObjectRef, Iterable[str]], since: float) -> None:
        for mine in self.names.values():
            for n in [n for n, at in mine.items() if at < since]:
                del mine[n]
        for ref, names in claims.items():
            mine = self.names.setdefault(ref_key(ref), {})
            for n in names:
                mine[n] = max(mine.get(n, since), since)

    # the sharded resync's no-op notes, as a Redis hash
    def note_noop(self, shard: str, note: str | None) -> None:
        if note is None:
            self.noop.pop(shard, None)
        else:
            self.noop[shard] = note

    def noop_notes(self) -> dict[str, str]:
        return dict(self.noop)

    def note_skip(self) -> None:
        self.noop["skipped"] = str(int(self.noop.get("skipped", "0")) + 1)

    def forget_noop(self) -> None:
        self.noop.clear()
