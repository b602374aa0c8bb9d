"""Listeners on real loopback sockets: IPv4 and IPv6 side by side, `bind`, and the TCP connection limits."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterator

import dns.message
import dns.query
import pytest

from dnsserver import corefile, listen
from dnsserver.app import running


def echo_handler(data: bytes, proto: str, addr: tuple[str, int]) -> bytes | None:
    """A reply that only flips QR: enough to see which socket answered."""
    return data[:2] + bytes([data[2] | 0x80]) + data[3:]


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    lp = asyncio.new_event_loop()
    yield lp
    lp.close()


def test_a_corefile_bind_serves_ipv4_and_ipv6_on_one_port(etcd_url: str) -> None:
    text = f". {{\n bind 127.0.0.1 ::1\n etcd {{\n  endpoint {etcd_url}\n }}\n}}\n"
    with running(corefile.parse(text, 0), host="") as app:
        port = app.ports[0]
        for addr in ("127.0.0.1", "::1"):
            for ask in (dns.query.udp, dns.query.tcp):
                r = ask(dns.message.make_query("nothing.example.", "A"), addr, port=port, timeout=3)
                assert r.rcode() in (0, 2, 3), (addr, ask)  # an answer, whatever it says


def test_without_bind_both_families_are_listened_on() -> None:
    assert listen.DEFAULT_HOSTS == ("0.0.0.0", "::")


def _connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    s.settimeout(3)
    return s


def _query_tcp(s: socket.socket) -> bytes:
    q = dns.message.make_query("x.example.", "A").to_wire()
    s.sendall(struct.pack("!H", len(q)) + q)
    n = struct.unpack("!H", s.recv(2))[0]
    return s.recv(n)


def _closed_by_peer(s: socket.socket, within: float) -> bool:
    s.settimeout(within)
    try:
        return s.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_tcp_connections_over_the_limit_are_closed_and_idle_ones_time_out(
    loop: asyncio.AbstractEventLoop,
) -> None:
    limits = listen.TcpLimits(idle=1.0, max_connections=3)
    [lst] = loop.run_until_complete(listen.serve(echo_handler, ("127.0.0.1",), 0, limits=limits))
    t = threading.Thread(target=loop.run_forever, daemon=True)
    t.start()
    try:
        held = [_connect(lst.port) for _ in range(3)]
        for s in held:
            assert _query_tcp(s)[2] & 0x80
        extra = _connect(lst.port)
        assert _closed_by_peer(extra, 2.0), "a fourth connection must be closed at once"
        assert limits.refused == 1
        held[0].close()
        deadline = time.monotonic() + 2
        while limits.open > 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        again = _connect(lst.port)
        assert _query_tcp(again)[2] & 0x80  # a slot is free again
        t0 = time.monotonic()
        assert _closed_by_peer(again, 3.0), "an idle connection must be closed"
        assert 0.5 < time.monotonic() - t0 < 2.5
        for s in (*held[1:], extra, again):
            s.close()
    finally:
        loop.call_soon_threadsafe(lst.close)
        loop.call_soon_threadsafe(loop.stop)
        t.join(5)


def test_a_client_that_never_reads_is_cut_off(loop: asyncio.AbstractEventLoop) -> None:
    def big(data: bytes, proto: str, addr: tuple[str, int]) -> bytes | None:
        return data[:2] + bytes([data[2] | 0x80]) + data[3:] + b"\0" * 60000

    [lst] = loop.run_until_complete(listen.serve(big, ("127.0.0.1",), 0))
    t = threading.Thread(target=loop.run_forever, daemon=True)
    t.start()
    try:
        s = _connect(lst.port)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        q = dns.message.make_query("x.example.", "A").to_wire()
        sent = 0
        try:
            for _ in range(200):  # ~12 MB of replies asked for, none read
                s.sendall(struct.pack("!H", len(q)) + q)
                sent += 1
        except OSError:
            pass
        deadline = time.monotonic() + 5
        while lst.limits.open and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lst.limits.open == 0, f"still open after {sent} unread queries"
        s.close()
    finally:
        loop.call_soon_threadsafe(lst.close)
        loop.call_soon_threadsafe(loop.stop)
        t.join(5)


def test_a_trickle_of_bytes_does_not_hold_a_slot(loop: asyncio.AbstractEventLoop) -> None:
    """One byte every 0.2 s never completes a query: the connection goes after the idle time anyway."""
    limits = listen.TcpLimits(idle=1.0, max_connections=10)
    [lst] = loop.run_until_complete(listen.serve(echo_handler, ("127.0.0.1",), 0, limits=limits))
    t = threading.Thread(target=loop.run_forever, daemon=True)
    t.start()
    try:
        trickle = _connect(lst.port)
        q = dns.message.make_query("x.example.", "A").to_wire()
        framed = struct.pack("!H", len(q)) + q
        t0 = time.monotonic()
        closed_after = None
        for b in framed[:16]:  # 3.2 s of trickling
            with contextlib.suppress(OSError):
                trickle.sendall(bytes([b]))
            time.sleep(0.2)
            if closed_after is None and limits.open == 0:
                closed_after = time.monotonic() - t0
        assert closed_after is not None and closed_after < 2.0, closed_after
        trickle.close()
    finally:
        loop.call_soon_threadsafe(lst.close)
        loop.call_soon_threadsafe(loop.stop)
        t.join(5)
