"""The record contract on a real etcd: idempotent, race-safe, adopts ExternalDNS data, chunks big applies."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Sequence

import pyetcd
import pytest

from adapters.etcd_records import EtcdStore
from controller.convergence import Wanted, converge
from controller.ports import RecordsState
from extdns.endpoint import Endpoint
from extdns.syncconfig import SyncConfig


def svc(name: str, *targets: str, rtype: str = "A", resource: str = "service/default/web") -> Endpoint:
    return Endpoint(name, rtype, targets, labels={"resource": resource})


@pytest.fixture
def prefix() -> str:
    return f"/t{uuid.uuid4().hex[:10]}"


def fixed(endpoints: Sequence[Endpoint]):  # type: ignore[no-untyped-def]
    return lambda todo: Wanted(endpoints, todo)


def revision(etcd: pyetcd.Etcd3Client) -> int:
    return int(etcd.get_response("/").header.revision)


def dump(etcd: pyetcd.Etcd3Client, prefix: str) -> dict[str, dict[str, object]]:
    return {m.key.decode(): json.loads(v) for v, m in etcd.get_prefix(prefix + "/")}


def test_second_apply_writes_nothing_and_moves_no_revision(etcd: pyetcd.Etcd3Client, prefix: str) -> None:
    cfg = SyncConfig(owner_id="it", prefix=prefix)
    store = EtcdStore(etcd, prefix)
    desired = [svc("web.example.org", "10.0.0.1", "10.0.0.2"), svc("v6.example.org", "2001:db8::1", rtype="AAAA"),
               svc("alias.example.org", "web.example.org", rtype="CNAME")]  # fmt: skip
    first = converge(store, cfg, fixed(desired))
    assert first.report.puts == 4 + 3  # four targets, three ownership TXT
    data = dump(etcd, prefix)
    hosts = sorted(v["host"] for v in data.values() if "host" in v)
    assert hosts == ["10.0.0.1", "10.0.0.2", "2001:db8::1", "web.example.org"]
    texts = [v["text"] for v in data.values() if "text" in v]
    assert all("external-dns/owner=it" in t and "heritage=external-dns" in t for t in texts)
    before = revision(etcd)
    second = converge(store, cfg, fixed(desired))
    assert second.report.writes == 0 and second.planned == 0
    assert revision(etcd) == before


def test_update_deletes_exactly_the_stale_key_and_never_a_neighbour(
    etcd: pyetcd.Etcd3Client, prefix: str
) -> None:
    cfg = SyncConfig(owner_id="it", prefix=prefix)
    store = EtcdStore(etcd, prefix)
    converge(store, cfg, fixed([svc("a.example.org", "10.0.0.1")]))
    etcd.put(f"{prefix}/org/example/aa/x1", json.dumps({"host": "10.9.9.9"}))  # a neighbour nobody owns
    converge(store, cfg, fixed([svc("a.example.org", "10.0.0.2")]))
    data = dump(etcd, prefix)
    assert sorted(v.get("host") for k, v in data.items() if "/a/" in k) == ["10.0.0.2"]
    assert data[f"{prefix}/org/example/aa/x1"] == {"host": "10.9.9.9"}
    converge(store, cfg, fixed([]))
    data = dump(etcd, prefix)
    assert list(data) == [f"{prefix}/org/example/aa/x1"], "records and their ownership TXT are gone"


def test_a_slower_writer_with_an_older_view_never_overwrites_newer_data(
    etcd: pyetcd.Etcd3Client, prefix: str
) -> None:
    cfg = SyncConfig(owner_id="it", prefix=prefix)
    store = EtcdStore(etcd, prefix)
    converge(store, cfg, fixed([svc("race.example.org", "10.0.0.1")]))
    # The slow writer takes its view, then reads the cluster (the Service had 10.0.0.5) ...
    from extdns.fencing import fence_key, fenced
    from extdns.provider import name_keys, sync

    name = "race.example.org"
    view = store.begin()
    # ... meanwhile the fast writer reads the newer cluster and commits it ...
    converge(store, cfg, fixed([svc(name, "10.0.0.9")]))
    # ... and only now does the slow writer read etcd (at its view) and commit its plan.
    snap = store.read(view, name_keys({name}, cfg), [fence_key(name, prefix)])
    stale = sync(snap.kvs, [svc(name, "10.0.0.5")], cfg, frozenset({name}))
    late = store.apply([fenced(op, prefix, snap.fences) for op in stale.ops])
    assert late.conflicts == [name] and late.writes == 0
    hosts = [v["host"] for v in dump(etcd, prefix).values() if "host" in v]
    assert hosts == ["10.0.0.9"]


def test_concurrent_appliers_converge_to_the_view_they_read_last(
    etcd: pyetcd.Etcd3Client, prefix: str
) -> None:
    cfg = SyncConfig(owner_id="it", prefix=prefix)
    truth = {"target": "10.0.1.0"}
    lock = threading.Lock()

    def desired(todo: frozenset[str] | None) -> Wanted:
        with lock:
            return Wanted([svc(f"n{i}.example.org", truth["target"]) for i in range(20)], todo)

    def worker() -> None:
        for i in range(10):
            with lock:
                truth["target"] = f"10.0.1.{i}"
            converge(EtcdStore(etcd, prefix), cfg, desired)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = converge(EtcdStore(etcd, prefix), cfg, desired)
    hosts = [v["host"] for v in dump(etcd, prefix).values() if "host" in v]
    assert sorted(set(hosts)) == [truth["target"]] and len(hosts) == 20
    assert final.report.writes == 0


def externaldns_layout(prefix: str, owner: str) -> dict[str, dict[str, object]]:
    """Keys and values as ExternalDNS v0.22's coredns provider + TXT registry write them (random suffixes)."""
    text = f'"heritage=external-dns,external-dns/owner={owner},external-dns/resource=service/default/nginx"'
    return {
        f"{prefix}/org/example/nginx/1f2e3d4c": {"host": "203.0.113.10", "ttl": 60, "targetstrip": 1},
        f"{prefix}/org/example/nginx/0a0b0c0d": {"host": "203.0.113.11", "ttl": 60, "targetstrip": 1},
        f"{prefix}/org/example/a-nginx/7a6b5c4d": {"text": text, "targetstrip": 1},
    }


def test_adopts_externaldns_records_with_the_minimum_writes(etcd: pyetcd.Etcd3Client, prefix: str) -> None:
    for key, value in externaldns_layout(prefix, "default").items():
        etcd.put(key, json.dumps(value))
    cfg = SyncConfig(owner_id="default", prefix=prefix)
    store = EtcdStore(etcd, prefix)
    desired = [Endpoint("nginx.example.org", "A", ("203.0.113.10", "203.0.113.11"), ttl=60,
                        labels={"resource": "service/default/nginx"})]  # fmt: skip
    first = converge(store, cfg, fixed(desired))
    assert first.report.writes <= 3, first.report
    second = converge(store, cfg, fixed(desired))
    assert second.report.writes == 0
    hosts = sorted(v["host"] for v in dump(etcd, prefix).values() if "host" in v)
    assert hosts == ["203.0.113.10", "203.0.113.11"]


def test_another_owners_externaldns_records_are_never_touched(etcd: pyetcd.Etcd3Client, prefix: str) -> None:
    layout = externaldns_layout(prefix, "someone-else")
    for key, value in layout.items():
        etcd.put(key, json.dumps(value))
    store = EtcdStore(etcd, prefix)
    cfg = SyncConfig(owner_id="default", prefix=prefix)
    before = revision(etcd)
    # We want the same name elsewhere, and nothing at all: neither may touch their keys.
    converge(store, cfg, fixed([svc("nginx.example.org", "198.51.100.1")]))
    converge(store, cfg, fixed([]))
    assert dump(etcd, prefix) == layout
    assert revision(etcd) == before, "not even a fence was written"


def test_ten_thousand_names_are_chunked_under_the_txn_limit(etcd: pyetcd.Etcd3Client, prefix: str) -> None:
    cfg = SyncConfig(owner_id="it", prefix=prefix)
    store = EtcdStore(etcd, prefix)
    desired = [svc(f"h{i}.bulk.example.org", f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
                   resource=f"service/bulk/h{i}") for i in range(10_000)]  # fmt: skip
    out = converge(store, cfg, fixed(desired))
    assert out.report.puts == 20_000 and not out.report.conflicts
    assert out.report.txns >= 20_000 // 128
    assert len(list(etcd.get_prefix(prefix + "/"))) == 20_000
    again = converge(store, cfg, fixed(desired))
    assert again.report.writes == 0


def test_an_apex_name_reads_and_guards_its_own_keys_only_never_the_zone(
    etcd: pyetcd.Etcd3Client, prefix: str
) -> None:
    from extdns.fencing import fence_key, fenced
    from extdns.provider import name_keys, sync

    cfg = SyncConfig(owner_id="it", prefix=prefix)
    store = EtcdStore(etcd, prefix)
    children = [
        svc(f"c{i}.example.org", f"10.1.{i // 256}.{i % 256}", resource=f"service/z/c{i}") for i in range(300)
    ]
    converge(store, cfg, fixed([*children, svc("example.org", "192.0.2.1", resource="ingress/z/apex")]))
    apex = "example.org"
    view = store.begin()
    # A child changes after the apex writer's view: it must not make the apex lose.
    converge(store, cfg, fixed([*children[1:], svc("c0.example.org", "10.9.9.9", resource="service/z/c0"),
                                svc("example.org", "192.0.2.1", resource="ingress/z/apex")]))  # fmt: skip
    snap = store.read(view, name_keys({apex}, cfg), [fence_key(apex, prefix)])
    assert {kv.key.rsplit("/", 1)[0] for kv in snap.kvs} == {
        f"{prefix}/org/example",
        f"{prefix}/org/a-example",
    }
    assert not any("/c0/" in kv.key or "/c1/" in kv.key for kv in snap.kvs), "a child's keys were read"
    plan = sync(snap.kvs, [svc(apex, "192.0.2.2", resource="ingress/z/apex")], cfg, frozenset({apex}))
    report = store.apply([fenced(op, prefix, snap.fences) for op in plan.ops])
    assert report.applied == [apex] and not report.conflicts
    assert sorted(v["host"] for k, v in dump(etcd, prefix).items()
                  if k.count("/") == prefix.count("/") + 3 and "host" in v) == ["192.0.2.2"]  # fmt: skip


def test_a_write_between_two_chunks_of_an_oversized_name_fails_the_rest(
    etcd: pyetcd.Etcd3Client, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = SyncConfig(owner_id="it", prefix=prefix)
    name = "big.example.org"
    small = EtcdStore(etcd, prefix, max_txn_ops=8)
    commits = []
    real_commit = small._commit

    def commit_then_interfere(compares, requests):  # type: ignore[no-untyped-def]
        resp = real_commit(compares, requests)
        commits.append(resp.succeeded)
        if len(commits) == 1:  # another writer lands on the name between the first and second chunk
            converge(EtcdStore(etcd, prefix), cfg, fixed([svc(name, "10.7.7.7")]))
        return resp

    monkeypatch.setattr(small, "_commit", commit_then_interfere)
    out = converge(small, cfg, fixed([svc(name, *(f"10.0.0.{i}" for i in range(1, 21)))]), rounds=1)
    assert commits[0] and not commits[1], "the second chunk must fail its fence"
    assert out.unresolved == [name]
    hosts = sorted(v["host"] for v in dump(etcd, prefix).values() if "host" in v)
    assert "10.7.7.7" in hosts


def test_one_object_claiming_several_names_commits_them_all_in_one_apply(
    etcd: pyetcd.Etcd3Client, prefix: str
) -> None:
    """Its marker guards every one of its names: the writer's own first commit must not fail the rest."""
    cfg = SyncConfig(owner_id="it", prefix=prefix)
    names = [f"n{i}.example.org" for i in range(300)]  # more than one etcd transaction holds
    obj = "Service/ns/multi"

    def desired(todo: frozenset[str] | None) -> Wanted:
        return Wanted([svc(n, "10.0.0.1") for n in names], todo, {n: frozenset({obj}) for n in names})

    out = converge(EtcdStore(etcd, prefix), cfg, desired, rounds=1)
    assert not out.unresolved and len(out.report.applied) == 300
    assert converge(EtcdStore(etcd, prefix), cfg, desired, rounds=1).report.writes == 0


def test_the_records_state_moves_with_every_put_and_delete_under_the_prefix(etcd: pyetcd.Etcd3Client) -> None:
    prefix = f"/t{uuid.uuid4().hex[:10]}"
    store = EtcdStore(etcd, prefix)
    assert store.state() == RecordsState(0, 0)
    etcd.put(f"{prefix}/org/example/a", "{}")
    etcd.put(f"{prefix}/org/example/b", "{}")
    two = store.state()
    assert two.count == 2 and two.newest > 0
    etcd.put(f"{prefix}x/org/example/c", "{}")  # beside the prefix, not under it
    etcd.put(f"/guard{prefix}/org/example", "")
    assert store.state() == two
    etcd.put(f"{prefix}/org/example/a", "{}")  # rewritten with the same value
    rewritten = store.state()
    assert rewritten.count == 2 and rewritten.newest > two.newest
    etcd.delete(f"{prefix}/org/example/a")
    assert store.state() == RecordsState(1, two.newest), "b is left, as it was"
