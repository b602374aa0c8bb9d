"""Differential test: this server and a real CoreDNS v1.14.7 (etcd plugin) over the same etcd data agree."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import pyetcd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnsserver import corefile
from dnsserver.app import App, running
from tools import testenv

RECORDS: dict[str, object] = {
    "org/example/www/a": {"host": "10.0.0.1"},
    "org/example/www/b": {"host": "10.0.0.2", "ttl": 60},
    "org/example/v6/a": {"host": "2001:db8::1"},
    "org/example/alias/x": {"host": "www.example.org"},
    "org/example/loop1/x": {"host": "loop2.example.org"},
    "org/example/loop2/x": {"host": "loop1.example.org"},
    "org/example/txt/a": {"text": "hello"},
    "org/example/txt/b": {"text": "y" * 300},
    "org/example/nametxt/a": {"host": "target.example.org", "text": "registry"},
    "org/example/mx/a": {"host": "10.0.0.25", "mail": True},
    "org/example/mx/b": {"host": "www.example.org", "mail": True, "priority": 20},
    "org/example/_tcp/_http/a": {"host": "10.0.0.80", "port": 80},
    "org/example/_tcp/_http/b": {"host": "www.example.org", "port": 8080, "weight": 50},
    "org/example/grp/a": {"host": "10.1.0.1", "group": "g1"},
    "org/example/grp/deep/b": {"host": "10.1.0.2", "group": "g2"},
    "org/example/exact": {"host": "exact.target.org"},
    "org/example/dns/ns/ns1": {"host": "10.0.0.53"},
    "arpa/in-addr/10/0/0/1": {"host": "www.example.org"},
}
QUESTIONS = [
    ("www.example.org.", "A"),
    ("WWW.Example.org.", "A"),
    ("www.example.org.", "AAAA"),
    ("v6.example.org.", "AAAA"),
    ("alias.example.org.", "A"),
    ("loop1.example.org.", "A"),
    ("txt.example.org.", "TXT"),
    ("nametxt.example.org.", "A"),
    ("nametxt.example.org.", "TXT"),
    ("mx.example.org.", "MX"),
    ("_http._tcp.example.org.", "SRV"),
    ("grp.example.org.", "A"),
    ("exact.example.org.", "CNAME"),
    ("www.example.org.", "CNAME"),
    ("nothing.example.org.", "A"),
    ("example.org.", "NS"),
    ("example.org.", "A"),
    ("nothing.example.org.", "SOA"),
    ("*.example.org.", "A"),
    ("any.example.org.", "TXT"),
    ("www.example.org.", "HINFO"),
    ("nothing.example.org.", "MX"),
    ("1.0.0.10.in-addr.arpa.", "PTR"),
]


def put_all(etcd_url: str, items: dict[str, bytes]) -> int:
    """Write every key in one etcd transaction; returns its revision."""
    u = urlsplit(etcd_url)
    client = pyetcd.client(host=u.hostname, port=u.port)
    try:
        ok, responses = client.transaction([], [client.transactions.put(k, v) for k, v in items.items()], [])
        assert ok
        return int(responses[-1].response_put.header.revision)
    finally:
        client.close()


def etcd_corefile(prefix: str, etcd_url: str) -> str:
    return f". {{\n etcd {{\n  path {prefix}\n  endpoint {etcd_url}\n }}\n}}\n"


def answering(port: int, deadline: float) -> None:
    """Wait until something answers DNS on port (any reply counts)."""
    while time.monotonic() < deadline:
        try:
            dns.query.udp(dns.message.make_query("probe.", "A"), "127.0.0.1", port=port, timeout=0.5)
            return
        except dns.exception.Timeout:
            time.sleep(0.1)
    raise AssertionError(f"nothing answers on port {port}")


@contextlib.contextmanager
def coredns(corefile_text: str, d: Path) -> Iterator[int]:
    """A real CoreDNS v1.14.7 running corefile_text in directory d; yields its port."""
    (d / "Corefile").write_text(corefile_text)
    port = testenv.free_port()
    with (d / "coredns.log").open("wb") as log:
        proc = subprocess.Popen(
            [str(testenv.binary("coredns")), "-conf", str(d / "Corefile"), "-dns.port", str(port)],
            cwd=d,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            answering(port, time.monotonic() + 30)
            yield port
        finally:
            proc.terminate()
            proc.wait(10)


@contextlib.contextmanager
def ours(corefile_text: str) -> Iterator[App]:
    """This server running corefile_text in-process, once its etcd snapshot is loaded."""
    with running(corefile.parse(corefile_text, 0)) as app:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(s.loaded for s in app.stores.values()):
            time.sleep(0.02)
        yield app


@pytest.fixture(scope="module")
def both(etcd_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    prefix = f"/skydns{uuid.uuid4().hex[:8]}"
    put_all(etcd_url, {f"{prefix}/{k}": json.dumps(v).encode() for k, v in RECORDS.items()})
    text = etcd_corefile(prefix, etcd_url)
    with coredns(text, tmp_path_factory.mktemp("coredns")) as theirs, ours(text) as app:
        yield app.ports[0], theirs


def normalize(m: dns.message.Message) -> tuple[object, ...]:
    def section(rrsets: list) -> list[str]:  # type: ignore[type-arg]
        out = []
        for rrset in rrsets:
            for rr in rrset:
                text = f"{rrset.name} {rrset.ttl} {dns.rdatatype.to_text(rrset.rdtype)} {rr.to_text()}"
                if rrset.rdtype == dns.rdatatype.SOA:
                    text = " ".join(w for i, w in enumerate(text.split()) if i != 5)  # the serial is time
                out.append(text)
        return sorted(out)

    flags = dns.flags.to_text(m.flags)
    return m.rcode(), flags, section(m.answer), section(m.authority), section(m.additional)


@pytest.mark.parametrize(("name", "qtype"), QUESTIONS, ids=[f"{n}{t}" for n, t in QUESTIONS])
def test_same_answer_as_coredns(both: tuple[int, int], name: str, qtype: str) -> None:
    ours, theirs = both
    q = dns.message.make_query(name, qtype)
    a = dns.query.udp(q, "127.0.0.1", port=ours, timeout=3)
    b = dns.query.udp(q, "127.0.0.1", port=theirs, timeout=3)
    assert normalize(a) == normalize(b)


# ---------------------------------------------------------------- generated record sets
#
# Every example writes its records under a fresh name (e<N>.test.) in the real etcd. Three servers read it:
# ours and a CoreDNS on the data as written ("dirty"), and a second CoreDNS on the same data with every
# bad value replaced by `{}` ("clean": the key still exists but yields no record). The one listed
# difference this exercises, skip a bad value instead of failing the query, is then checked exactly:
# ours on dirty == CoreDNS on clean, and CoreDNS on dirty is either that same answer or SERVFAIL.

LABELS = ("a", "b", "www", "mx", "x1", "_tcp", "_http")
QTYPES = ("A", "AAAA", "TXT", "CNAME", "MX", "SRV", "PTR", "SOA", "HINFO")
BAD_VALUES = (
    b"not json",
    b"[1, 2]",
    b'{"host": "10.9.9.9", "ttl": "60"}',
    b'{"host": "10.9.9.8", "port": "80"}',
    b'{"host": "10.9.9.7", "ttl": -1}',
    b'{"host": "10.9.9.6", "priority": 1.5}',
)
EXAMPLE = iter(range(1_000_000))


@st.composite
def record_sets(draw: st.DrawFn) -> tuple[int, list[tuple[str, bytes]], list[tuple[str, str]]]:
    """(example number, [(record name, etcd value)], [(question name, qtype)])."""
    n = next(EXAMPLE)
    zone = f"e{n}.test."
    names = draw(st.lists(st.lists(st.sampled_from(LABELS), min_size=1, max_size=3), min_size=1, max_size=4))
    fqdns = sorted({".".join(labels) + "." + zone for labels in names})
    host = st.one_of(
        st.sampled_from(["10.0.0.1", "10.0.0.2", "192.0.2.7", "2001:db8::1", "::ffff:10.1.2.3"]),
        st.sampled_from([*fqdns, "nothere." + zone, "elsewhere.invalid."]),
    )
    value = st.fixed_dictionaries(
        {},
        optional={
            "host": host,
            "text": st.sampled_from(["hello", "t2", "y" * 300]),
            "ttl": st.sampled_from([0, 60, 3600]),
            "priority": st.sampled_from([0, 10, 20]),
            "weight": st.sampled_from([0, 50, 100]),
            "port": st.sampled_from([-1, 80, 8080]),
            "mail": st.booleans(),
            "group": st.sampled_from(["g1", "g2"]),
            "targetstrip": st.sampled_from([0, 1]),
        },
    )
    records: list[tuple[str, bytes]] = []
    for _ in range(draw(st.integers(1, 8))):
        name = draw(st.sampled_from(fqdns))
        leaf = draw(st.sampled_from(["", "", "1a2b3c4d", "a", "b"]))  # "" = the name's own key
        raw = draw(st.sampled_from(BAD_VALUES)) if draw(st.integers(0, 5)) == 0 else json.dumps(draw(value))
        records.append(((f"{leaf}." if leaf else "") + name, raw if isinstance(raw, bytes) else raw.encode()))
    parents = {n.split(".", i)[-1] for n in fqdns for i in range(1, n.count(".") - 1)}
    ask = st.sampled_from(sorted({*fqdns, *parents, "nothere." + zone, "*." + zone, "any.mx." + zone}))
    case = st.sampled_from([str.lower, str.upper, str.swapcase])
    questions = draw(
        st.lists(st.tuples(ask.map(draw(case)), st.sampled_from(QTYPES)), min_size=1, max_size=6)
    )
    return n, records, questions


@dataclass
class Trio:
    """The servers of the generated differential test and where their data lives."""

    etcd_url: str
    dirty: str
    clean: str
    app: App
    theirs_dirty: int
    theirs_clean: int


def key_of(prefix: str, name: str) -> str:
    return prefix + "/" + "/".join(reversed(name.rstrip(".").split(".")))


@pytest.fixture(scope="module")
def trio(etcd_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trio]:
    """Our server and a CoreDNS on fresh "dirty" data, a second CoreDNS on its "clean" copy."""
    dirty, clean = f"/skydnsd{uuid.uuid4().hex[:8]}", f"/skydnsc{uuid.uuid4().hex[:8]}"
    with (
        ours(etcd_corefile(dirty, etcd_url)) as app,
        coredns(etcd_corefile(dirty, etcd_url), tmp_path_factory.mktemp("dirty")) as theirs_dirty,
        coredns(etcd_corefile(clean, etcd_url), tmp_path_factory.mktemp("clean")) as theirs_clean,
    ):
        yield Trio(etcd_url, dirty, clean, app, theirs_dirty, theirs_clean)


def ask(port: int, name: str, qtype: str) -> dns.message.Message:
    q = dns.message.make_query(name, qtype, use_edns=0, payload=4096)
    q.id = 4242
    return dns.query.udp(q, "127.0.0.1", port=port, timeout=3)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(example=record_sets())
def test_generated_record_sets_answer_like_coredns(
    trio: Trio, example: tuple[int, list[tuple[str, bytes]], list[tuple[str, str]]]
) -> None:
    _, records, questions = example
    put_all(trio.etcd_url, {key_of(trio.clean, n): b"{}" if v in BAD_VALUES else v for n, v in records})
    rev = put_all(trio.etcd_url, {key_of(trio.dirty, n): v for n, v in records})
    app = trio.app
    store = next(iter(app.stores.values()))
    deadline = time.monotonic() + 5
    while store.revision < rev:
        assert time.monotonic() < deadline, "our server did not see the records"
        time.sleep(0.002)
    ours_port = app.ports[0]
    for name, qtype in questions:
        want = normalize(ask(trio.theirs_clean, name, qtype))
        assert normalize(ask(ours_port, name, qtype)) == want, (name, qtype, records)
        raw = normalize(ask(trio.theirs_dirty, name, qtype))
        assert raw == want or raw[0] == dns.rcode.SERVFAIL, (name, qtype, records)
