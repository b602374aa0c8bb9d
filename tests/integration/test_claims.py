"""The Redis bookkeeping on a real Redis: pending marks, object locks, claims taken, recorded and rebuilt."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from adapters.redis_claims import Claims
from extdns.sources import ObjectRef

X = ObjectRef("Service", "ns", "x")
Y = ObjectRef("Service", "ns", "y")
XK, YK, ZK = "Service/ns/x", "Service/ns/y", "Service/ns/z"


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url, db=13)  # a database of its own: the pipeline tests share db 0
    c.flushdb()
    yield c
    c.flushdb()
    c.close()


@pytest.fixture
def claims(client: redis.Redis) -> Claims:
    return Claims(client, stale=1.0, lock_ttl=30)


def test_a_mark_publishes_once_until_taken_and_again_once_it_is_stale(claims: Claims) -> None:
    assert claims.mark_pending([XK, YK]) == [True, True]
    assert claims.mark_pending([XK]) == [False], "a message is already on its way"
    time.sleep(1.2)  # its publisher may have died between mark and publish
    assert claims.mark_pending([XK]) == [True]
    assert claims.take("t1", [XK], 0).held == [XK]
    assert claims.mark_pending([XK]) == [True], "taken: a later change needs a message of its own"


def test_an_object_held_by_one_task_is_blocked_for_another_until_released(claims: Claims) -> None:
    claims.mark_pending([XK])
    assert claims.take("t1", [XK], 0).held == [XK]
    claims.mark_pending([XK])  # changed again while t1 works on it
    second = claims.take("t2", [XK], 0)
    assert second.held == [] and second.blocked == [XK]
    again = claims.take("t1", [], 0)  # t1 retried or redelivered (same id): still holds it
    assert again.held == [XK]
    claims.done("t1")
    third = claims.take("t2", [XK], 0)
    assert third.held == [XK] and third.blocked == []


def test_extras_skip_held_objects_and_an_own_object_taken_elsewhere_is_skipped(claims: Claims) -> None:
    claims.mark_pending([XK, YK, ZK])
    assert claims.take("t1", [YK], 0).held == [YK]
    claims.mark_pending([YK])  # pending again, but held by t1
    got = claims.take("t2", [XK], 5)
    assert got.held == [XK, ZK], "y is held by t1: not taken along"
    assert claims.take("t3", [ZK], 0).held == [], "z was taken by t2 after its message was published"


def test_claims_are_added_before_and_pruned_after_and_rebuild_keeps_newer_entries(claims: Claims) -> None:
    claims.add({X: {"a.example.org"}})
    assert claims.names_of([X]) == {X: {"a.example.org"}}
    assert claims.claimants(["a.example.org"]) == {X}
    # x moves to b: both are claimed until the commit, then a is pruned
    claims.add({X: {"b.example.org"}})
    assert claims.names_of([X]) == {X: {"a.example.org", "b.example.org"}}
    claims.prune({X: {"b.example.org"}}, {X: {"a.example.org", "b.example.org"}})
    assert claims.names_of([X]) == {X: {"b.example.org"}}
    assert claims.claimants(["a.example.org"]) == set()
    # A resync listed before y recorded its claim: the rebuild must not erase it.
    listed = claims.now()
    time.sleep(0.01)
    claims.add({Y: {"c.example.org"}})
    claims.rebuild({X: {"b.example.org"}}, since=listed)
    assert claims.names_of([X, Y]) == {X: {"b.example.org"}, Y: {"c.example.org"}}
    # An entry older than `since` that the resync did not see is gone.
    claims.rebuild({}, since=claims.now() + 1)
    assert claims.names_of([X, Y]) == {X: set(), Y: set()}


def test_a_large_rebuild_is_exactly_the_resync_claims_plus_newer_entries(
    claims: Claims, client: redis.Redis
) -> None:
    objects = [ObjectRef("Service", "ns", f"s{i}") for i in range(2000)]
    # Before the resync: every object claimed a name it has since given up, and s0 a name still its.
    claims.add({ref: {f"old-{ref.name}.example.org"} for ref in objects})
    listed = claims.now()
    time.sleep(0.01)
    claims.add({Y: {"late.example.org"}})  # recorded by a task after the resync listed
    wanted = {ref: {f"{ref.name}.example.org", "shared.example.org"} for ref in objects[:1200]}
    wanted |= {ref: {f"{ref.name}.example.org"} for ref in objects[1200:]}
    wanted[objects[0]].add("old-s0.example.org")
    claims.rebuild(wanted, since=listed)
    got = claims.names_of([*objects, Y])
    assert got == {**{ref: names for ref, names in wanted.items()}, Y: {"late.example.org"}}
    assert claims.claimants(["shared.example.org"]) == set(objects[:1200]), "more claimants than one ZADD batch"
    assert claims.claimants(["old-s1.example.org", "old-s0.example.org"]) == {objects[0]}
    assert client.zscore("extdns:names-of:Service/ns/s0", "old-s0.example.org") == listed, "re-recorded at since"


def test_release_deletes_a_lock_only_while_it_holds_the_token(claims: Claims, client: redis.Redis) -> None:
    client.set("extdns:resync-lock", "mine")
    assert not claims.release("extdns:resync-lock", "theirs")
    assert client.get("extdns:resync-lock") == b"mine"
    assert claims.release("extdns:resync-lock", "mine")
    assert client.get("extdns:resync-lock") is None
