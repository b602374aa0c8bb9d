"""UDP and TCP listeners on asyncio: framing, idle timeout, and a handler that never takes the server down."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable

Handler = Callable[[bytes, str, tuple[str, int]], bytes | None]
TCP_IDLE_TIMEOUT = 10.0
TCP_MAX_PENDING = 64 * 1024
# The default (rmem_default, 208 KiB) holds only ~160 small datagrams: a burst of a few hundred queries
# in flight (dnsperf -q 200, a busy resolver) then loses some in the kernel before we read them.
UDP_RCVBUF = 1 << 20

log = logging.getLogger("dnsserver")


def _safe(handler: Handler, data: bytes, proto: str, addr: tuple[str, int]) -> bytes | None:
    try:
        return handler(data, proto, addr)
    except Exception:  # no input may stop the server answering others
        log.exception("handler failed on a %d-byte %s packet from %s", len(data), proto, addr[0])
        return None


class UdpProtocol(asyncio.DatagramProtocol):
    """One datagram in, at most one datagram out."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's UDPTransport is not a subclass

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        out = _safe(self.handler, data, "udp", addr)
        if out is not None and self.transport is not None:
            self.transport.sendto(out, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("udp error: %s", exc)


class TcpProtocol(asyncio.Protocol):
    """Length-prefixed messages, several per connection, closed after an idle timeout."""

    def __init__(self, handler: Handler, idle: float = TCP_IDLE_TIMEOUT) -> None:
        self.handler = handler
        self.idle = idle
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] = ("", 0)
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.peer = (str(peer[0]), int(peer[1])) if peer else ("", 0)
        self._arm()

    def _arm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_later(self.idle, self._close)

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if len(self.buf) > TCP_MAX_PENDING + 2:
            self._close()
            return
        self._arm()
        while len(self.buf) >= 2:
            n = int.from_bytes(self.buf[:2], "big")
            if len(self.buf) < 2 + n:
                return
            msg = bytes(self.buf[2 : 2 + n])
            del self.buf[: 2 + n]
            out = _safe(self.handler, msg, "tcp", self.peer)
            if out is not None and self.transport is not None:
                self.transport.write(len(out).to_bytes(2, "big") + out)


async def serve(handler: Handler, host: str, port: int) -> tuple[asyncio.DatagramTransport, asyncio.Server]:
    """Start UDP and TCP on the same address; returns both so the caller can close them."""
    loop = asyncio.get_running_loop()
    tcp = await loop.create_server(lambda: TcpProtocol(handler), host, port, reuse_address=True)
    if port == 0:
        port = int(tcp.sockets[0].getsockname()[1])
    udp, _ = await loop.create_datagram_endpoint(lambda: UdpProtocol(handler), local_addr=(host, port))
    sock = udp.get_extra_info("socket")
    with contextlib.suppress(OSError):  # the kernel caps it at net.core.rmem_max
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RCVBUF)
    return udp, tcp
