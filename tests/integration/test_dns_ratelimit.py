"""ratelimit on real sockets: a flood from one /24 is cut to its rate while another source is answered."""

from __future__ import annotations

import json
import socket
import time
import uuid

import dns.flags
import dns.message
import dns.query
import pyetcd

from dnsserver import corefile
from dnsserver.app import running
from tests.integration.test_dns_server import conf, http_get, wait_for

RATE = 50


def _socket(source: str) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((source, 0))  # all of 127.0.0.0/8 is loopback: each /24 is another client network
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    return s


def _drain(s: socket.socket, wait: float) -> list[dns.message.Message]:
    out = []
    s.settimeout(wait)
    try:
        while True:
            out.append(dns.message.from_wire(s.recv(4096)))
    except TimeoutError:
        return out


def test_a_flood_is_slowed_and_another_source_is_answered_normally(
    etcd_url: str, etcd: pyetcd.Etcd3Client
) -> None:
    prefix = f"/skydns-{uuid.uuid4().hex[:10]}"
    etcd.put(f"{prefix}/org/example/web/a", json.dumps({"host": "10.9.0.1"}))
    text = conf(etcd_url, prefix, f"ratelimit {RATE} {{\n  window 2\n  slip 2\n }}")
    with running(corefile.parse(text, 0)) as app:
        wait_for(lambda: all(s.loaded for s in app.stores.values()))
        port = app.ports[0]
        flood, other = _socket("127.0.0.1"), _socket("127.0.1.1")
        q = dns.message.make_query("web.example.org", "A")
        t0 = time.monotonic()
        for _ in range(1000):
            flood.sendto(q.to_wire(), ("127.0.0.1", port))
        sent_in = time.monotonic() - t0
        calm = []
        for _ in range(10):  # meanwhile, another network asks now and then
            other.sendto(q.to_wire(), ("127.0.0.1", port))
            calm.extend(_drain(other, 0.05))
        flooded = _drain(flood, 0.5)
        full = [m for m in flooded if not m.flags & dns.flags.TC]
        slipped = [m for m in flooded if m.flags & dns.flags.TC]
        elapsed = time.monotonic() - t0
        assert len(calm) == 10 and all(m.answer and not m.flags & dns.flags.TC for m in calm)
        # one second's credit plus what the rate earned while the flood lasted, a little slack for timing
        assert RATE <= len(full) <= RATE + RATE * elapsed + 5, (len(full), elapsed, sent_in)
        dropped = 1000 - len(full) - len(slipped)
        assert abs(len(slipped) - dropped) <= 1 and not any(m.answer for m in slipped)
        _, metrics = http_get(app.http.bound("127.0.0.1:0"), "/metrics")
        assert f'extdns_dnsserver_ratelimited_responses_total{{action="drop"}} {float(dropped)}' in metrics
        # TCP is never limited: a client told to retry over TCP gets its answer
        r = dns.query.tcp(q, "127.0.0.1", port=port, timeout=3, source="127.0.0.1")
        assert r.answer
        flood.close()
        other.close()
