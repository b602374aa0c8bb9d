"""Corefile subset parsing, and the wire layer: FORMERR/NOTIMP/BADVERS, EDNS echo, truncation, fuzz."""

from __future__ import annotations

import json
import struct

import dns.flags
import dns.message
import dns.rcode
import pytest
from dnslib import CNAME, QTYPE, RR, A, DNSRecord
from hypothesis import given, settings
from hypothesis import strategies as st

from dnsserver import corefile, wire
from dnsserver.cache import AnswerCache
from dnsserver.corefile import CorefileError
from dnsserver.index import Index
from dnsserver.observability import Metrics, QueryLog
from dnsserver.server import Block, Engine

SEED = ". { errors health log etcd { endpoint http://etcd-dns:2379 } cache 30 prometheus 0.0.0.0:9153 }"


def test_seed_corefile_loads_as_it_is() -> None:
    text = SEED.replace("{ ", "{\n").replace(" }", "\n}").replace(" log", "\nlog").replace(" etcd", "\netcd")
    text = (
        text.replace(" cache", "\ncache")
        .replace(" prometheus", "\nprometheus")
        .replace(" health", "\nhealth")
    )
    [b] = corefile.parse(text)
    assert b.zones == (".",) and b.port == 53 and b.log and b.errors
    assert b.etcd is not None and b.etcd.endpoints == ("http://etcd-dns:2379",) and b.etcd.path == "/skydns"
    assert b.cache is not None and b.cache.max_ttl == 30
    assert b.health == ":8080" and b.prometheus == "0.0.0.0:9153"


def test_zones_ports_and_etcd_options() -> None:
    text = """
    example.org:1053 10.0.0.0/24 {
        etcd example.org {
            path /dns/
            endpoint http://a:2379 http://b:2379
            credentials user secret
            tls cert.pem key.pem ca.pem
            fallthrough in-addr.arpa
            min-lease-ttl 1m
            stubzones
        }
        ready 127.0.0.1:8181
    }
    """
    blocks = corefile.parse(text, 5300)
    assert [(b.zones, b.port) for b in blocks] == [
        (("example.org.",), 1053),
        (("0.0.10.in-addr.arpa.",), 5300),
    ]
    e = blocks[0].etcd
    assert e is not None
    assert e.path == "/dns" and e.endpoints == ("http://a:2379", "http://b:2379")
    assert (e.username, e.password, e.tls) == ("user", "secret", ("cert.pem", "key.pem", "ca.pem"))
    assert e.fallthrough == ("in-addr.arpa.",) and e.min_lease_ttl == 60
    assert blocks[0].bufsize == 1232 and blocks[0].bind == () and blocks[0].ratelimit is None


def test_bufsize_bind_and_ratelimit() -> None:
    text = ". {\n bufsize 1400\n bind 127.0.0.1 ::1\n any\n ratelimit 50 {\n slip 3\n window 5\n }\n}"
    [b] = corefile.parse(text)
    assert b.bufsize == 1400 and b.bind == ("127.0.0.1", "::1")
    assert b.ratelimit == corefile.RateLimitConfig(rate=50, window=5, slip=3)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (". {\n forward . 8.8.8.8\n}", "unknown directive 'forward'"),
        (". {\n etcd {\n endpoints http://x:2379\n }\n}", "unknown property 'endpoints'"),
        (". {\n etcd {\n credentials onlyone\n }\n}", "credentials requires 2 arguments"),
        (". {\n cache abc\n}", "cache: bad TTL 'abc'"),
        (". {\n prometheus a b\n}", "prometheus: expects at most one address"),
        (".:99999 {\n log\n}", "bad port '99999'"),
        (". {\n log\n", "missing '}'"),
        (". {\n bufsize 100\n}", "bufsize: '100' is not a size from 512 to 4096"),
        (". {\n bind eth0\n}", "bind: 'eth0' is not an IP address"),
        (". {\n ratelimit\n}", "ratelimit: expects one argument"),
        (". {\n ratelimit 10 {\n slip x\n }\n}", "ratelimit: slip must be a non-negative integer"),
        (". {\n ratelimit 10 {\n ipv4-prefix-length 33\n }\n}", "ipv4-prefix-length 33 is longer than 32"),
        ("a.org {\n bind 127.0.0.1\n}\nb.org {\n bind ::1\n}", "on port 53 bind different addresses"),
        ("", "no server blocks"),
    ],
)
def test_bad_corefile_names_the_problem(text: str, message: str) -> None:
    with pytest.raises(CorefileError, match=message.replace("(", r"\(")):
        corefile.parse(text)


# ---------------------------------------------------------------- wire


def engine(records: dict[str, object], cache: bool = False, extra: str = "") -> Engine:
    cfg = corefile.parse(f". {{\n etcd\n {'cache 30' if cache else ''}\n {extra}\n}}", 53)[0]

    class FakeStore:  # the real Store needs etcd; the engine only reads these attributes
        loaded = True
        prefix = "/skydns"
        index, _ = Index.build((k, json.dumps(v).encode()) for k, v in records.items())

    block = Block(cfg, FakeStore(), AnswerCache() if cache else None, "dns://:53")  # type: ignore[arg-type]

    class Null:
        def write(self, s: str) -> int:
            return len(s)

    return Engine([block], Metrics(), QueryLog(Null()))  # type: ignore[arg-type]


MANY = {f"/skydns/org/example/big/k{i:03d}": {"host": f"10.0.{i // 250}.{i % 250}"} for i in range(100)}
ENGINE = engine({**MANY, "/skydns/org/example/www/a": {"host": "10.0.0.1"}}, cache=True)


def run(q: dns.message.Message, proto: str = "udp") -> dns.message.Message:
    out = ENGINE.handle(q.to_wire(), proto, ("127.0.0.1", 5353))
    assert out is not None
    return dns.message.from_wire(out)


def test_edns_is_echoed_with_do_bit_and_udp_size() -> None:
    q = dns.message.make_query("www.example.org", "A", use_edns=0, payload=1232, want_dnssec=True)
    r = run(q)
    assert r.edns == 0 and r.payload == 1232 and r.ednsflags & dns.flags.DO
    assert r.flags & dns.flags.AA and not r.flags & dns.flags.RA


def test_udp_truncation_sets_tc_and_tcp_carries_all() -> None:
    r = run(dns.message.make_query("big.example.org", "A"))
    assert r.flags & dns.flags.TC and 0 < len(r.answer[0]) < 100
    r = run(dns.message.make_query("big.example.org", "A"), "tcp")
    assert not r.flags & dns.flags.TC and len(r.answer[0]) == 100


def test_udp_replies_stop_at_1232_bytes_whatever_the_client_offers() -> None:
    """A 100-record answer (1.6 KB) does not fit the default bufsize: TC, at most 1232 bytes."""
    q = dns.message.make_query("big.example.org", "A", use_edns=0, payload=65535)
    out = ENGINE.handle(q.to_wire(), "udp", ("127.0.0.1", 1))
    assert out is not None and len(out) <= 1232
    r = dns.message.from_wire(out)
    assert r.flags & dns.flags.TC and r.payload == 1232 and 0 < len(r.answer[0]) < 100


def test_bufsize_directive_raises_the_limit() -> None:
    big = engine(MANY, extra="bufsize 4096")
    q = dns.message.make_query("big.example.org", "A", use_edns=0, payload=4096)
    out = big.handle(q.to_wire(), "udp", ("127.0.0.1", 1))
    assert out is not None
    r = dns.message.from_wire(out)
    assert not r.flags & dns.flags.TC and len(r.answer[0]) == 100 and r.payload == 4096
    q = dns.message.make_query("big.example.org", "A", use_edns=0, payload=1400)  # the client's size wins
    r = dns.message.from_wire(big.handle(q.to_wire(), "udp", ("127.0.0.1", 1)) or b"")
    assert r.flags & dns.flags.TC and r.payload == 1400


def test_no_udp_reply_is_over_40_times_its_query() -> None:
    """The root apex (the whole zone) asked with the shortest EDNS query there is: 28 bytes."""
    root = engine({f"/skydns/n{i}/a": {"host": f"10.1.{i // 250}.{i % 250}"} for i in range(300)})
    for qtype in ("A", "TXT", "NS", "SOA", "ANY", "AAAA", "SRV", "MX"):
        wire_q = dns.message.make_query(".", qtype, use_edns=0, payload=4096).to_wire()
        out = root.handle(wire_q, "udp", ("127.0.0.1", 1))
        assert out is not None and len(out) <= 40 * len(wire_q), (qtype, len(wire_q), len(out))


def test_any_gets_one_small_hinfo_as_rfc8482() -> None:
    r = run(dns.message.make_query("big.example.org", "ANY", use_edns=0, payload=4096))
    assert r.rcode() == dns.rcode.NOERROR and len(r.answer) == 1
    [rr] = r.answer
    assert rr.rdtype == dns.rdatatype.HINFO and rr.ttl == 8482
    assert rr[0].cpu == b"ANY obsoleted" and rr[0].os == b"See RFC 8482"


def test_a_0x20_variant_is_answered_from_the_stored_reply_in_its_own_case() -> None:
    e = engine({"/skydns/org/example/www/a": {"host": "10.0.0.1"}})
    first = e.handle(dns.message.make_query("www.example.org", "A").to_wire(), "udp", ("127.0.0.1", 1))
    assert first is not None
    looked: list[str] = []
    resolve = e.resolve
    e.resolve = lambda *a, **k: looked.append(a[0]) or resolve(*a, **k)  # type: ignore[method-assign]
    q = dns.message.make_query("wWw.ExAmPlE.oRg", "A")
    out = e.handle(q.to_wire(), "udp", ("127.0.0.1", 1))
    assert out is not None and looked == []  # no new lookup
    r = dns.message.from_wire(out)
    assert r.id == q.id and r.question[0].name.to_text() == "wWw.ExAmPlE.oRg."
    assert out[12 : 12 + 17] == q.to_wire()[12 : 12 + 17]  # the question exactly as asked
    assert sorted(x.to_text() for x in r.answer[0]) == sorted(
        x.to_text() for x in dns.message.from_wire(first).answer[0]
    )
    # ... but a query that differs elsewhere (here: the EDNS size) is a different question
    q2 = dns.message.make_query("wWw.ExAmPlE.oRg", "A", use_edns=0, payload=1232)
    e.handle(q2.to_wire(), "udp", ("127.0.0.1", 1))
    assert looked == ["wWw.ExAmPlE.oRg."]


def test_cache_hit_rewrites_the_id() -> None:
    q = dns.message.make_query("www.example.org", "A")
    first = run(q)
    q.id = (q.id + 1) % 65536
    second = run(q)
    assert second.id == q.id and second.answer == first.answer
    assert len(ENGINE.blocks[0].cache or []) > 0


@pytest.mark.parametrize(
    ("packet", "rcode"),
    [
        (b"\x12\x34\x01\x00\x00\x02\x00\x00\x00\x00\x00\x00", wire.FORMERR),  # two questions
        (b"\x12\x34\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00", wire.FORMERR),  # no question
        (b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www", wire.FORMERR),  # cut short
        (b"\x12\x34\x29\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01", wire.NOTIMP),  # UPDATE
    ],
)
def test_malformed_queries_get_an_error_reply(packet: bytes, rcode: int) -> None:
    out = ENGINE.handle(packet, "udp", ("127.0.0.1", 1))
    assert out is not None and out[:2] == b"\x12\x34" and out[3] & 0xF == rcode and out[2] & 0x80


def test_responses_and_runts_are_dropped() -> None:
    assert ENGINE.handle(b"\x12\x34\x81\x00" + b"\x00" * 8, "udp", ("127.0.0.1", 1)) is None
    assert ENGINE.handle(b"\x12", "udp", ("127.0.0.1", 1)) is None


def test_badvers_and_refused_outside_class_in() -> None:
    q = dns.message.make_query("www.example.org", "A", use_edns=1)
    r = run(q)
    assert r.rcode() == dns.rcode.BADVERS
    q = dns.message.make_query("www.example.org", "A", rdclass="CH")
    assert run(q).rcode() == dns.rcode.REFUSED


def test_truncate_keeps_section_order() -> None:
    q = wire.decode(DNSRecord.question("x.example.org", "A").pack())
    assert isinstance(q, wire.Query)
    ans = [RR("x.example.org", QTYPE.A, 1, 60, A(f"10.0.0.{i}")) for i in range(40)]
    extra = [RR("y.example.org", QTYPE.A, 1, 60, A("10.1.1.1"))]
    out = DNSRecord.parse(wire.encode(q, 0, ans, [], extra, "udp"))
    assert out.header.tc == 1 and out.ar == [] and len(out.rr) < 40
    assert len(wire.encode(q, 0, ans, [], extra, "udp")) <= 512


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_fuzz_random_packets_never_raise(packet: bytes) -> None:
    ENGINE.handle(packet, "udp", ("127.0.0.1", 1))
    ENGINE.handle(packet, "tcp", ("127.0.0.1", 1))


VALID = dns.message.make_query("www.example.org", "A", use_edns=0).to_wire()


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), max_size=6),
    st.integers(0, len(VALID)),
)
def test_fuzz_mutated_queries_never_raise(flips: list[tuple[int, int]], cut: int) -> None:
    b = bytearray(VALID)
    for i, v in flips:
        b[i] = v
    ENGINE.handle(bytes(b[:cut] if cut > 12 else b), "udp", ("127.0.0.1", 1))


def test_a_tcp_reply_past_16_kib_has_no_broken_compression_pointer() -> None:
    """Names beyond offset 0x3FFF cannot be pointed at: dnslib did, with the top bits cut off."""
    q = wire.decode(DNSRecord.question("example.org.", "A").pack())
    assert isinstance(q, wire.Query)
    ans = [RR("example.org.", QTYPE.A, 1, 60, A(f"10.0.{i // 250}.{i % 250}")) for i in range(1100)]
    ans += [
        RR("example.org.", QTYPE.CNAME, 1, 60, CNAME("lb.other.net.")),
        RR("lb.other.net.", QTYPE.A, 1, 60, A("192.0.2.1")),
    ]
    out = wire.encode(q, 0, ans, [], [], "tcp")
    assert len(out) > 0x4000
    parsed = DNSRecord.parse(out)
    assert str(parsed.rr[-1].rname) == "lb.other.net." and str(parsed.rr[-2].rdata) == "lb.other.net."


def test_a_question_name_with_a_compression_pointer_is_answered_right_every_time() -> None:
    hdr = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    data = hdr + b"\x03www\xc0\x04" + b"\x00\x01\x00\x01"  # 'www' then a pointer to a zero byte
    e = engine({"/skydns/www/a": {"host": "10.0.0.1"}})
    for _ in range(2):  # the second is answered from the memo
        out = e.handle(data, "udp", ("127.0.0.1", 1))
        assert out is not None
        r = DNSRecord.parse(out)
        assert str(r.q.qname) == "www." and [str(x.rdata) for x in r.rr] == ["10.0.0.1"]


def test_an_overlong_name_is_formerr_and_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    hdr = struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0)
    name = b"".join(b"\x3f" + b"\x01" * 63 for _ in range(4)) + b"\x00"  # 256 bytes
    out = ENGINE.handle(hdr + name + b"\x00\x01\x00\x01", "udp", ("127.0.0.1", 1))
    assert out is not None and out[3] & 0xF == wire.FORMERR
    assert not caplog.records


def test_health_lameduck_is_read_in_seconds_and_a_bad_one_is_refused() -> None:
    (block,) = corefile.parse(". {\n health :8080 {\n  lameduck 5s\n }\n}\n", 53)
    assert (block.health, block.lameduck) == (":8080", 5)
    (plain,) = corefile.parse(". {\n health\n}\n", 53)
    assert plain.lameduck == 0
    for bad in ("lameduck", "lameduck soon", "lameduck 5s 6s", "unknown 1"):
        with pytest.raises(CorefileError, match="health"):
            corefile.parse(f". {{\n health {{\n  {bad}\n }}\n}}\n", 53)
