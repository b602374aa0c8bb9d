"""Whole-zone answers kept ready in the index equal the rule-for-rule lookup, through every change."""

from __future__ import annotations

import json

import pytest
from dnslib import DNSRecord
from hypothesis import given, settings
from hypothesis import strategies as st

from dnsserver import lookup as L
from dnsserver import wire
from dnsserver.index import Index

ZONE = "example.org."
NAMES = (
    "example.org.",
    "ExAmple.ORG.",
    "*.example.org.",
    "any.example.org.",
    "www.example.org.",
    "*.A.example.org.",
    "any.www.example.org.",
    "b.example.org.",
    "a.*.example.org.",
    "deep.*.example.org.",
)
HOSTS = (
    "10.0.0.1",
    "10.0.0.2",
    "10.0.0.1",
    "2001:db8::1",
    "lb.elsewhere.net",
    "www.example.org",
    "deep.a.example.org",
    "",
)
TEXTS = ("", "", "heritage=external-dns,external-dns/owner=default", "x" * 300)
KEYS = st.sampled_from(
    [f"/skydns/org/example/{n}" for n in ("www/a", "www/b", "a", "a/deep/x", "b/t", "c/a", "dns/apex/x", "z")]
)


@st.composite
def values(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 20)) == 0:
        return b"not json"
    v: dict[str, object] = {"host": draw(st.sampled_from(HOSTS))}
    text = draw(st.sampled_from(TEXTS))
    if text:
        v["text"] = text
    if draw(st.integers(0, 3)) == 0:
        v["ttl"] = draw(st.integers(1, 600))
    if draw(st.integers(0, 30)) == 0:
        v["group"] = "g"
    for field, values in (("port", (-1, 0, 53, 443)), ("priority", (0, 10, 20)), ("weight", (0, 5, 100))):
        if draw(st.integers(0, 2)) == 0:
            v[field] = draw(st.sampled_from(values))
    if draw(st.integers(0, 3)) == 0:
        v["mail"] = True
    return json.dumps(v).encode()


OPS = st.lists(st.tuples(KEYS, st.one_of(st.none(), values())), max_size=25)


@pytest.fixture(autouse=True)
def every_subtree_rolls_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """The property below uses small zones: let every name with a record below it use a rollup."""
    monkeypatch.setattr(L, "ROLLUP_MIN", 1)


def reply(idx: Index, name: str, qtype: int, ready: bool, proto: str = "tcp") -> bytes:
    q = wire.decode(DNSRecord.question(name, "A").pack())
    assert isinstance(q, wire.Query)
    q = wire.Query(
        0,
        q.rd,
        q.cd,
        name,
        qtype,
        1,
        None,
        q.labels,
        q.question[:-4] + qtype.to_bytes(2, "big") + b"\0\1",
        q.size,
    )
    z = L.Zone(ZONE, "/skydns", idx, question=name)
    if ready:
        if proto == "udp":
            z.max_records = wire.budget(q, proto) // L.MIN_RECORD + 1
        res = L.answer(z, name, qtype, 1)
    else:  # the rule-for-rule lookup over lists: no rollup, no lazy walk, no early stop
        saved = L.ROLLUP_MIN
        L.ROLLUP_MIN = 10**9
        try:
            res = L.answer(z, name, qtype, 1)
        finally:
            L.ROLLUP_MIN = saved
    return wire.encode(q, res.rcode, res.answer, res.authority, res.additional, proto, tc=res.truncated)


@settings(max_examples=120, deadline=None)
@given(OPS, OPS)
def test_ready_answers_equal_the_lookup_through_every_change(
    start: list[tuple[str, bytes | None]], changes: list[tuple[str, bytes | None]]
) -> None:
    idx, _ = Index.build((k, v) for k, v in dict(start).items() if v is not None)
    for name in NAMES:  # build the rollups, then change the index under them
        reply(idx, name, L.T_A, True)
    for i, (key, value) in enumerate([(None, None), *changes]):
        if key is not None:
            if value is None:
                idx.delete(key)
            else:
                idx.put(key, value)
        for name in NAMES:
            for qtype in (L.T_A, L.T_AAAA, L.T_TXT, L.T_SRV, L.T_MX):
                for proto in ("tcp", "udp"):  # over UDP the rollup stops once the reply is full
                    fast, slow = reply(idx, name, qtype, True, proto), reply(idx, name, qtype, False, proto)
                    assert fast == slow, (i, name, qtype, proto, DNSRecord.parse(fast), DNSRecord.parse(slow))


def test_a_zone_answer_walks_only_the_rollup() -> None:
    """2,000 names: the apex TXT answer reads no entry of the zone once the rollup exists."""
    items = [
        (f"/skydns/org/example/n{i}/a", json.dumps({"host": f"10.{i // 250}.{i % 250}.1"}).encode())
        for i in range(2000)
    ]
    items += [
        (f"/skydns/org/example/n{i}/t", json.dumps({"text": f"owner {i}"}).encode()) for i in range(2000)
    ]
    idx, _ = Index.build(items)
    reply(idx, "example.org.", L.T_TXT, True)
    calls = 0
    subtree = idx.subtree

    def counting(prefix: str) -> tuple[bool, list]:  # type: ignore[type-arg]
        nonlocal calls
        found, out = subtree(prefix)
        calls += len(out)
        return found, out

    idx.subtree = counting  # type: ignore[method-assign]
    idx.put("/skydns/org/example/n9/t", json.dumps({"text": "changed"}).encode())
    out = reply(idx, "example.org.", L.T_TXT, True)
    assert calls == 0 and b"changed" in out
    assert len(DNSRecord.parse(out).rr) == 2000
    for qtype in (L.T_A, L.T_TXT):  # over UDP: cut where the reply is full, byte for byte the same
        assert reply(idx, "example.org.", qtype, True, "udp") == reply(
            idx, "example.org.", qtype, False, "udp"
        )


@pytest.mark.parametrize("name", ["example.org.", "*.example.org."])
def test_grouped_records_fall_back_to_the_lookup(name: str) -> None:
    idx, _ = Index.build(
        [
            ("/skydns/org/example/a/x", b'{"host":"10.0.0.1","group":"g"}'),
            ("/skydns/org/example/b/x", b'{"host":"10.0.0.2"}'),
        ]
    )
    assert reply(idx, name, L.T_A, True) == reply(idx, name, L.T_A, False)
    assert idx.rollup("/skydns/org/example").grouped == 1


def test_deleting_the_holders_of_a_shared_address_in_key_order_is_linear(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """etcdctl del --prefix deletes in key order: each next holder must be found at once, not by a scan."""
    import dnsserver.index as I

    n = 2000
    items = [(f"/skydns/org/example/n{i:05d}/a", b'{"host":"10.0.0.1"}') for i in range(n)]
    idx, _ = Index.build(items)
    idx.rollup("/skydns/org/example")
    looks = 0
    value = I._value

    def counting(cls: int, e: I.Entry) -> str | None:
        nonlocal looks
        looks += 1
        return value(cls, e)

    monkeypatch.setattr(I, "_value", counting)
    for key, _ in items:
        idx.delete(key)
    assert looks < 10 * n, looks  # a scan per delete would be ~n*n/2 = 2,000,000
