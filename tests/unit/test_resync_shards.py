"""A sharded resync: its shards, run one after another or interleaved, leave etcd as one whole resync does.

Each world starts from records ExternalDNS wrote (random key labels, `targetstrip`, `a-` ownership
TXTs), records of another owner, old-format ownership, orphans of deleted Services, a name merged
from two Services, a bad value and a non-canonical key; the cluster has changed since.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from controller.reconcile import MAX_SKIPS, Controller, ResyncMemo, full_sync, skip_round
from extdns.fencing import NameTxn
from extdns.shards import Shard, key_names, shard_of, split
from extdns.sources import SourceConfig
from extdns.stored import KeyValue
from extdns.syncconfig import SyncConfig
from tests.fakes import FakeClaims, FakeCluster, FakeEtcd, FakeStore
from tests.unit.test_interleavings import service

PREFIX = "/skydns"
OWNER = "t"
CFG = SyncConfig(owner_id=OWNER, prefix=PREFIX)


def _value(**fields: object) -> bytes:
    return json.dumps(fields, separators=(",", ":")).encode()


def _txt(owner: str, resource: str) -> bytes:
    text = f'"heritage=external-dns,external-dns/owner={owner},external-dns/resource={resource}"'
    return _value(text=text, targetstrip=1)


def _key(name: str, label: str = "") -> str:
    path = "/".join(reversed(name.split(".")))
    return f"{PREFIX}/{path}" + (f"/{label}" if label else "")


def seeded(seed: int) -> tuple[dict[str, bytes], list[dict[str, Any]]]:
    """Records as ExternalDNS and others left them, and a cluster that has moved on since."""
    rng = random.Random(seed)
    names = [f"n{i}.example.org" for i in range(40)]
    records: dict[str, bytes] = {}
    objects: list[dict[str, Any]] = []
    for i, name in enumerate(names):
        head, _, rest = name.partition(".")
        role = rng.choice(["ours", "ours", "orphan", "foreign", "old-format", "fresh", "fresh"])
        if role in ("ours", "orphan", "foreign"):
            owner = "other" if role == "foreign" else OWNER
            records[_key(name, f"{i:08x}")] = _value(host=f"192.0.2.{i}", targetstrip=1)
            records[_key(f"a-{head}.{rest}", f"{i + 1:08x}")] = _txt(owner, f"service/ns/s{i}")
        if role == "old-format":
            records[_key(name, f"{i:08x}")] = _value(host=f"192.0.2.{i}", targetstrip=1)
            records[_key(name, f"{i + 2:08x}")] = _txt(OWNER, f"service/ns/s{i}")
        if role != "orphan":
            objects.append(service(f"s{i}", name, f"198.51.100.{rng.randrange(1, 200)}"))
    objects.append(service("twin", names[3], "203.0.113.7"))  # merged with s3's targets
    objects.append(service("deep", "x.y.n0.example.org", "203.0.113.8"))
    records[_key("bad.example.org", "00000001")] = b"{not json"
    records[_key("n1.example.org", "00000002") + "/"] = _value(host="192.0.2.250", targetstrip=1)
    records[_key("strip.n5.example.org", "00000003")] = _value(host="192.0.2.251", targetstrip=2)
    return records, objects


def world(records: dict[str, bytes], objects: list[dict[str, Any]]) -> tuple[FakeEtcd, Controller]:
    etcd = FakeEtcd()
    assert etcd.commit(NameTxn("seed", (), tuple(records.items()), (), ""))
    ctl = Controller(
        FakeStore(etcd, PREFIX), FakeCluster(objects), FakeClaims(), CFG, SourceConfig(), ("service",),
        memo=ResyncMemo(),
    )  # fmt: skip
    return etcd, ctl


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("count", [2, 3, 4])
def test_shards_one_after_another_leave_what_one_whole_resync_leaves(seed: int, count: int) -> None:
    records, objects = seeded(seed)
    whole, ctl = world(records, objects)
    full_sync(ctl)
    assert full_sync(ctl).report.writes == 0, "the whole resync converges in one pass"

    sharded, ctl = world(records, objects)
    written: list[tuple[Shard, str]] = []
    for index in range(count):
        shard = Shard(index, count)
        ctl.store.on_commit = lambda name, s=shard: written.append((s, name))  # type: ignore[attr-defined]
        full_sync(ctl, shard=shard)
    assert sharded.records(PREFIX) == whole.records(PREFIX)
    assert written, "the shards wrote"
    assert all(s.holds(name) for s, name in written), "a shard commits only names it holds"
    assert len({s for s, _ in written}) > 1, "the work is spread over the shards"


@pytest.mark.parametrize("seed", range(4))
def test_interleaved_shards_of_two_runs_converge_like_a_whole_resync(seed: int) -> None:
    """Shards of one run and of the next, in any order, with the cluster changing in between."""
    records, objects = seeded(seed)
    rng = random.Random(seed)
    whole, ctl_whole = world(records, objects)
    sharded, ctl = world(records, objects)
    runs = [Shard(i, 3) for i in range(3)] * 2
    rng.shuffle(runs)
    changed = service("s0", "n0.example.org", "203.0.113.99")
    for step, shard in enumerate(runs):
        if step == 2:
            for c in (ctl.cluster, ctl_whole.cluster):
                c.put(changed)  # type: ignore[attr-defined]
        full_sync(ctl, shard=shard)
    for index in range(3):  # a last round of every shard: the change is everywhere now
        full_sync(ctl, shard=Shard(index, 3))
    full_sync(ctl_whole)
    assert sharded.records(PREFIX) == whole.records(PREFIX)


def test_only_the_first_shard_rebuilds_the_claims_index() -> None:
    records, objects = seeded(1)
    _, ctl = world(records, objects)
    claims = ctl.claims
    assert isinstance(claims, FakeClaims)
    full_sync(ctl, shard=Shard(1, 2))
    recorded = [n for mine in claims.names.values() for n in mine]
    assert recorded, "shard 2/2 wrote names and recorded their claimants first"
    assert all(Shard(1, 2).holds(n) for n in recorded), "shard 2/2 records only the names it writes"
    full_sync(ctl, shard=Shard(0, 2))
    assert any(not Shard(0, 2).holds(n) for mine in claims.names.values() for n in mine), (
        "shard 1/2 rebuilt the whole index (every shard read every object)"
    )


def test_each_shard_keeps_its_own_skip_memo() -> None:
    records, objects = seeded(2)
    _, ctl = world(records, objects)
    for _ in range(2):
        for index in range(2):
            full_sync(ctl, shard=Shard(index, 2))
    assert ctl.memo is not None
    assert ctl.memo.of(Shard(0, 2)).last is not None and ctl.memo.of(Shard(1, 2)).last is not None
    assert ctl.memo.last is None, "the whole resync's memo is its own"


def test_a_name_s_records_and_ownership_txts_are_read_by_its_shard() -> None:
    kvs = [
        KeyValue(_key("web.example.org", "1a2b3c4d"), _value(host="192.0.2.1", targetstrip=1), 2),
        KeyValue(_key("a-web.example.org", "0badc0de"), _txt(OWNER, "service/ns/web"), 3),
        KeyValue(_key("cname-web.example.org", "0badc0df"), _txt(OWNER, "service/ns/web"), 4),
        KeyValue(_key("web.example.org"), _value(text='"heritage=external-dns"'), 5),  # at the name itself
    ]
    for count in (2, 3, 5, 8):
        shard = Shard(shard_of("web.example.org", count), count)
        part = split(kvs, [], CFG, shard)
        assert part.kvs == kvs
        assert "web.example.org" in part.names


def test_key_names_follow_targetstrip_and_escapes() -> None:
    plain = KeyValue(_key("a.b.example.org"), _value(host="192.0.2.1"), 1)
    assert key_names(plain, CFG) == {"a.b.example.org"}
    strip1 = KeyValue(_key("b.example.org", "1a2b3c4d"), _value(host="192.0.2.1", targetstrip=1), 1)
    assert key_names(strip1, CFG) == {"b.example.org"}
    strip2 = KeyValue(_key("a.b.example.org"), b'{"host":"192.0.2.1","TargetStrip" : 2}', 1)
    assert key_names(strip2, CFG) == {"example.org"}
    twice = KeyValue(_key("a.b.example.org"), b'{"targetstrip":2,"host":"192.0.2.1","targetStrip":1}', 1)
    assert key_names(twice, CFG) == {"a.b.example.org", "b.example.org", "example.org", "org"}
    too_deep = KeyValue(_key("a.b.example.org"), b'{"host":"192.0.2.1","targetstrip":4}', 1)
    assert key_names(too_deep, CFG) == {"a.b.example.org"}, "rejected when read, at its own name"
    escaped = KeyValue(_key("a.b.example.org"), b'{"host":"192.0.2.1","\\u0074argetstrip":2}', 1)
    assert "example.org" in key_names(escaped, CFG), "an escaped field name may be targetstrip"
    txt = KeyValue(_key("a-web.example.org", "0badc0de"), _txt(OWNER, "x"), 1)
    assert key_names(txt, CFG) == {"a-web.example.org", "web.example.org"}, "escaped quotes spell no field"


def test_shards_must_exist() -> None:
    with pytest.raises(ValueError):
        Shard(2, 2)
    with pytest.raises(ValueError):
        Shard(0, 0)


def sharded_round(ctl: Controller, count: int) -> bool:
    """One beat tick with --resync-shards: True when skipped, else every shard ran."""
    if skip_round(ctl, count):
        return True
    for index in range(count):
        full_sync(ctl, shard=Shard(index, count))
    return False


def quiet_world() -> tuple[FakeEtcd, Controller]:
    records, objects = seeded(3)
    etcd, ctl = world(records, objects)
    ctl.memo = None  # no per-process memo: only the shared notes can skip
    assert not sharded_round(ctl, 3), "the first round writes"
    assert not sharded_round(ctl, 3), "the second finds nothing to do and notes it"
    return etcd, ctl


def test_a_round_after_a_no_op_one_is_skipped_whichever_process_runs_which_shard() -> None:
    _, ctl = quiet_world()
    assert sharded_round(ctl, 3)
    assert sharded_round(ctl, 3)


def test_a_round_is_skipped_at_most_max_skips_times_in_a_row() -> None:
    _, ctl = quiet_world()
    skipped = [sharded_round(ctl, 3) for _ in range(MAX_SKIPS + 2)]
    assert skipped == [True] * MAX_SKIPS + [False, True]


def test_a_change_made_after_a_no_op_round_is_not_skipped() -> None:
    etcd, ctl = quiet_world()
    cluster = ctl.cluster
    assert isinstance(cluster, FakeCluster)
    cluster.put(service("s0", "n0.example.org", "203.0.113.50"))
    assert not sharded_round(ctl, 3)
    assert any(b"203.0.113.50" in v for v in etcd.records(PREFIX).values())


def test_a_record_removed_behind_the_controllers_back_after_a_no_op_round_is_restored() -> None:
    etcd, ctl = quiet_world()
    before = etcd.records(PREFIX)
    key = next(k for k, v in before.items() if b'"host"' in v and b"198.51.100" in v)
    assert etcd.commit(NameTxn("manual", (), (), (key,), ""))
    assert not sharded_round(ctl, 3)
    assert etcd.records(PREFIX) == before


def test_no_skip_when_a_shard_wrote_or_the_shards_disagree() -> None:
    _, ctl = quiet_world()
    claims = ctl.claims
    assert isinstance(claims, FakeClaims)
    notes = dict(claims.noop)
    claims.noop.pop(str(Shard(1, 3)))
    assert not sharded_round(ctl, 3), "a shard without a note (it wrote) is no proof"
    claims.noop.update(notes)
    claims.noop[str(Shard(2, 3))] = "1:1:" + "0" * 64
    assert not sharded_round(ctl, 3), "notes of other inputs are no proof"
    assert not skip_round(ctl, 4), "notes of another shard count are no proof"


def test_shards_skipped_by_their_own_memo_leave_their_notes_for_the_next_round() -> None:
    records, objects = seeded(4)
    _, ctl = world(records, objects)  # one process running every shard: its own memos hit
    assert not sharded_round(ctl, 2)
    assert not sharded_round(ctl, 2), "no-op: notes and the process's memos are made"
    claims = ctl.claims
    assert isinstance(claims, FakeClaims)
    claims.forget_noop()  # as a round that could not be skipped leaves them
    assert not sharded_round(ctl, 2), "the shards run, each skipped by the process's memo"
    assert sharded_round(ctl, 2), "their notes are back: the next round is skipped whole"
