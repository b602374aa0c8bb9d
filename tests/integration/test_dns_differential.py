"""Differential test: this server and a real CoreDNS v1.14.7 (etcd plugin) over the same etcd data agree."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import pyetcd
import pytest

from dnsserver import corefile
from dnsserver.app import running
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


@pytest.fixture(scope="module")
def both(etcd_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    prefix = f"/skydns{uuid.uuid4().hex[:8]}"
    from urllib.parse import urlsplit

    u = urlsplit(etcd_url)
    client = pyetcd.client(host=u.hostname, port=u.port)
    for k, v in RECORDS.items():
        client.put(f"{prefix}/{k}", json.dumps(v))
    client.close()
    text = f". {{\n etcd {{\n  path {prefix}\n  endpoint {etcd_url}\n }}\n}}\n"
    d = tmp_path_factory.mktemp("coredns")
    (d / "Corefile").write_text(text)
    port = testenv.free_port()
    log = (d / "coredns.log").open("wb")
    proc = subprocess.Popen(
        [str(testenv.binary("coredns")), "-conf", str(d / "Corefile"), "-dns.port", str(port)],
        cwd=d,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        with running(corefile.parse(text, 0)) as app:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    dns.query.udp(
                        dns.message.make_query("www.example.org", "A"), "127.0.0.1", port=port, timeout=0.5
                    )
                    break
                except Exception:
                    time.sleep(0.2)
            while time.monotonic() < deadline and not all(s.loaded for s in app.stores.values()):
                time.sleep(0.05)
            yield app.ports[0], port
    finally:
        proc.terminate()
        proc.wait(10)
        _ = Path


def normalize(m: dns.message.Message) -> tuple[object, ...]:
    def section(rrsets: list) -> list[str]:  # type: ignore[type-arg]
        out = []
        for rrset in rrsets:
            for rr in rrset:
                text = f"{rrset.name} {rrset.ttl} {dns.rdatatype.to_text(rrset.rdtype)} {rr.to_text()}"
                if rrset.rdtype == dns.rdatatype.SOA:
                    text = " ".join(w for i, w in enumerate(text.split()) if i != 6)  # the serial is time
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
