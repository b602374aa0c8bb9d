"""A running process skips a resync whose inputs are the last no-op one's, and only then.

The inputs are the cluster (the same objects at the same versions) and the records under the prefix
(the same count and newest mod revision). Each test changes one input behind the memo's back and
shows the next resync plans against it.
"""

from __future__ import annotations

from typing import Any

from controller.reconcile import Controller, ResyncMemo, full_sync
from extdns.fencing import NameTxn
from extdns.sources import SourceConfig
from extdns.syncconfig import SyncConfig
from tests.fakes import FakeClaims, FakeCluster, FakeEtcd, FakeStore
from tests.unit.test_interleavings import service

PREFIX = "/skydns"


class World:
    def __init__(self, *objects: dict[str, Any]) -> None:
        self.etcd = FakeEtcd()
        self.cluster = FakeCluster(objects)
        self.reads = 0
        self.cluster.on_read = self._count
        self.memo = ResyncMemo()
        cfg = SyncConfig(owner_id="t", prefix=PREFIX)
        store = FakeStore(self.etcd, PREFIX)
        self.ctl = Controller(
            store, self.cluster, FakeClaims(), cfg, SourceConfig(), ("service",), memo=self.memo
        )

    def _count(self, version: int) -> None:
        self.reads += 1

    def resync(self) -> bool:
        """Run one resync; True when it read the whole cluster (was not skipped)."""
        before = self.reads
        full_sync(self.ctl)
        return self.reads > before

    def hosts(self) -> list[str]:
        return sorted(v.decode() for v in self.etcd.records(PREFIX).values() if b'"host"' in v)

    def remove_behind(self, key_part: str) -> None:
        """Delete a record key straight in etcd, as an operator with etcdctl would."""
        key = next(
            k for k in self.etcd.records(PREFIX) if key_part in k and "host" in str(self.etcd.now()[k][0])
        )
        assert self.etcd.commit(NameTxn("manual", (), (), (key,), ""))


def test_the_resync_after_a_no_op_one_with_nothing_changed_reads_no_more_than_versions() -> None:
    w = World(service("web", "web.example.org", "192.0.2.1"))
    assert w.resync(), "the first resync writes"
    assert w.memo.last is None, "a resync that wrote leaves no memo: its writes are not what it read"
    assert w.resync(), "the second reads everything and finds nothing to do"
    assert w.memo.last is not None
    assert not w.resync(), "the third has the same inputs: skipped"
    assert w.cluster.unchanged_checks == 1
    assert not w.resync()


def test_a_record_removed_behind_the_controllers_back_is_restored_by_the_next_resync() -> None:
    w = World(service("web", "web.example.org", "192.0.2.1"), service("api", "api.example.org", "192.0.2.2"))
    w.resync()
    w.resync()
    before = w.hosts()
    w.remove_behind("/web")
    assert len(w.hosts()) == len(before) - 1
    assert w.resync(), "the records changed: the resync reads everything"
    assert w.hosts() == before


def test_a_record_rewritten_behind_the_controllers_back_is_repaired_by_the_next_resync() -> None:
    w = World(service("web", "web.example.org", "192.0.2.1"))
    w.resync()
    w.resync()
    key, (value, _) = next(
        (k, v) for k, v in w.etcd.now().items() if k.startswith(PREFIX + "/") and b"192.0.2.1" in v[0]
    )
    assert w.etcd.commit(NameTxn("manual", (), ((key, value.replace(b"192.0.2.1", b"192.0.2.9")),), (), ""))
    assert w.resync()
    assert b"192.0.2.1" in w.etcd.now()[key][0] or any(
        b"192.0.2.1" in v for v in w.etcd.records(PREFIX).values()
    )
    assert not any(b"192.0.2.9" in v for v in w.etcd.records(PREFIX).values())


def test_an_object_changed_in_the_cluster_is_planned_by_the_next_resync() -> None:
    w = World(service("web", "web.example.org", "192.0.2.1"))
    w.resync()
    w.resync()
    w.cluster.put(service("web", "web.example.org", "192.0.2.7"))
    assert w.resync()
    assert any(b"192.0.2.7" in v for v in w.etcd.records(PREFIX).values())
    assert not any(b"192.0.2.1" in v for v in w.etcd.records(PREFIX).values())


def test_dry_runs_and_manifest_reads_never_use_or_leave_a_memo() -> None:
    w = World(service("web", "web.example.org", "192.0.2.1"))
    w.resync()
    full_sync(w.ctl, dry_run=True)
    assert w.memo.last is None
    full_sync(w.ctl, read=w.cluster.read_all)
    assert w.memo.last is None
    w.resync()
    assert w.memo.last is not None
    reads = w.reads
    full_sync(w.ctl, read=w.cluster.read_all)
    assert w.reads == reads + 1, "a given reader is always read"


def test_after_max_skips_in_a_row_one_resync_reads_everything_again() -> None:
    from controller.reconcile import MAX_SKIPS

    w = World(service("web", "web.example.org", "192.0.2.1"))
    w.resync()
    w.resync()
    assert [w.resync() for _ in range(MAX_SKIPS)] == [False] * MAX_SKIPS
    assert w.resync(), "a full resync, whatever the checks say"
    assert not w.resync(), "and skipping starts over"
