"""The answer memo (replies kept until etcd changes them), the dnslib-free query parser and the UDP buffer."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from pathlib import Path

import dns.message
import dns.rcode
import pytest
from dnslib.label import LDH
from hypothesis import given, settings
from hypothesis import strategies as st

from dnsserver import listen, wire
from dnsserver.server import Engine
from tests.unit.test_dns_corefile_wire import engine

RECORDS = {
    "/skydns/org/example/www/a": {"host": "10.0.0.1"},
    "/skydns/org/example/other/a": {"host": "10.0.0.9"},
}


def ask(e: Engine, name: str, qtype: str = "A") -> dns.message.Message:
    out = e.handle(dns.message.make_query(name, qtype).to_wire(), "udp", ("127.0.0.1", 5353))
    assert out is not None
    return dns.message.from_wire(out)


def addresses(m: dns.message.Message) -> list[str]:
    return [r.address for rrset in m.answer for r in rrset]


def put(e: Engine, key: str, value: object) -> None:
    store = e.blocks[0].store
    assert store is not None
    store.index.put(key, json.dumps(value).encode())
    e.invalidate(key)


def test_memo_without_cache_serves_exact_answers_until_a_change_touches_them() -> None:
    e = engine(RECORDS)
    assert e.blocks[0].cache is None
    first = ask(e, "www.example.org")
    assert addresses(first) == ["10.0.0.1"] and first.answer[0].ttl == 300  # no cache: TTL not capped
    assert len(e.memo) == 1 and addresses(ask(e, "www.example.org")) == ["10.0.0.1"]
    put(e, "/skydns/org/example/other/b", {"host": "10.0.0.10"})
    assert len(e.memo) == 1  # an unrelated key keeps the entry
    put(e, "/skydns/org/example/www/b", {"host": "10.0.0.2"})
    assert len(e.memo) == 0
    assert sorted(addresses(ask(e, "www.example.org"))) == ["10.0.0.1", "10.0.0.2"]
    assert ask(e, "new.example.org").rcode() == dns.rcode.NXDOMAIN
    put(e, "/skydns/org/example/new/x", {"host": "10.0.0.3"})  # a negative answer is invalidated too
    assert addresses(ask(e, "new.example.org")) == ["10.0.0.3"]


def test_memo_refreshes_the_soa_serial(monkeypatch: pytest.MonkeyPatch) -> None:
    e = engine(RECORDS)
    clock = [1_800_000_000.0]
    monkeypatch.setattr("time.time", lambda: clock[0])

    def serial(qtype: str) -> int:
        m = ask(e, "none.example.org", qtype)
        return int(next(r.serial for rrset in (*m.answer, *m.authority) for r in rrset))

    for qtype in ("A", "SOA"):  # NXDOMAIN with the SOA in authority; the SOA as the answer
        assert serial(qtype) == 1_800_000_000
        clock[0] += 100
        assert serial(qtype) == 1_800_000_100  # from the memo, with the serial of now
        clock[0] -= 100
    assert len(e.memo) == 2


def test_another_letter_case_is_answered_in_its_own_case() -> None:
    e = engine(RECORDS)
    assert ask(e, "www.example.org").answer[0].name.to_text() == "www.example.org."
    assert ask(e, "WWW.Example.ORG").answer[0].name.to_text() == "WWW.Example.ORG."
    assert ask(e, "WWW.Example.ORG").answer[0].name.to_text() == "WWW.Example.ORG."
    assert len(e.memo) == 1  # case variants share one slot


def test_cache_plugin_answers_are_not_memoised() -> None:
    e = engine(RECORDS, cache=True)
    assert ask(e, "www.example.org").answer[0].ttl == 30
    assert len(e.memo) == 0 and len(e.blocks[0].cache or []) == 1


LABEL = st.binary(min_size=1, max_size=20).map(lambda b: bytes(c for c in b if c in LDH) or b"x")


@settings(max_examples=300)
@given(
    labels=st.lists(LABEL, max_size=5),
    qtype=st.integers(0, 65535),
    qclass=st.sampled_from([1, 3, 255]),
    edns=st.one_of(
        st.none(), st.tuples(st.integers(0, 65535), st.booleans(), st.integers(0, 2), st.binary(max_size=12))
    ),
    flags=st.integers(0, 0xFFFF).map(lambda f: f & 0x07FF),
)
def test_plain_parser_agrees_with_dnslib(
    labels: list[bytes], qtype: int, qclass: int, edns: tuple[int, bool, int, bytes] | None, flags: int
) -> None:
    name = b"".join(bytes([len(lab)]) + lab for lab in labels) + b"\x00"
    data = (
        struct.pack("!HHHHHH", 7, flags, 1, 0, 0, 0 if edns is None else 1)
        + name
        + struct.pack("!HH", qtype, qclass)
    )
    if edns is not None:
        size, do, version, opts = edns
        ttl = version << 16 | (0x8000 if do else 0)
        data += b"\x00" + struct.pack("!HHIH", 41, size, ttl, len(opts)) + opts
    fast = wire._plain(data, 7, flags, 0, 0 if edns is None else 1)
    slow = wire._parsed(data, 7, flags)
    if fast is None:  # only options that do not fill the OPT exactly leave the plain parser
        assert edns is not None and not wire._options_ok(edns[3])
    else:
        assert fast == slow


def test_udp_receive_buffer_holds_a_burst() -> None:
    async def bound() -> int:
        [lst] = await listen.serve(lambda d, p, a: None, ("127.0.0.1",), 0)
        try:
            return int(lst.udp.get_extra_info("socket").getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
        finally:
            lst.close()

    cap = int(Path("/proc/sys/net/core/rmem_max").read_text())
    assert asyncio.run(bound()) >= min(listen.UDP_RCVBUF, cap)


def test_the_memo_holds_a_bounded_number_of_bytes() -> None:
    from dnsserver.cache import FOREVER, AnswerCache, CacheEntry

    c = AnswerCache(capacity=50_000, max_bytes=1 << 20)
    for i in range(200):  # 200 replies of 64 KiB: 12.5 MiB asked for
        q = struct.pack("!H", i) + b"query"
        c.put("tcp", q, CacheEntry(q[2:], bytes(65_000), FOREVER, (f"/k{i}",), (), False))
    assert c.bytes <= 1 << 20 and 0 < len(c) <= 16
    assert c.bytes == sum(len(e.packed) + len(e.query) for e in c.entries.values())
    c.invalidate_key("/k199")
    assert c.bytes == sum(len(e.packed) + len(e.query) for e in c.entries.values())
