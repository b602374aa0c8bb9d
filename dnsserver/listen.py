"""UDP and TCP listeners on asyncio: IPv4 and IPv6, framing, connection limits, a handler that never fails."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass

Handler = Callable[[bytes, str, tuple[str, int]], bytes | None]
TCP_IDLE_TIMEOUT = 10.0  # a connection with no complete query for this long is closed
TCP_MAX_PENDING = 64 * 1024  # unanswered bytes read from one connection (one maximal message)
TCP_MAX_UNSENT = 256 * 1024  # replies a client does not read: past this the connection is closed
TCP_MAX_CONNECTIONS = 1000  # open connections per listener (per process); more are closed at once
DEFAULT_HOSTS = ("0.0.0.0", "::")  # no `bind`: every IPv4 and every IPv6 address
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


@dataclass
class TcpLimits:
    """What one TCP listener allows; `open` counts its live connections."""

    idle: float = TCP_IDLE_TIMEOUT
    max_connections: int = TCP_MAX_CONNECTIONS
    open: int = 0
    refused: int = 0  # connections closed at once because `max_connections` were open


class TcpProtocol(asyncio.Protocol):
    """Length-prefixed messages, several per connection, closed after an idle timeout or over a limit."""

    def __init__(self, handler: Handler, limits: TcpLimits | None = None) -> None:
        self.handler = handler
        self.limits = limits or TcpLimits()
        self.idle = self.limits.idle
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] = ("", 0)
        self.timer: asyncio.TimerHandle | None = None
        self.counted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.peer = (str(peer[0]), int(peer[1])) if peer else ("", 0)
        if self.limits.open >= self.limits.max_connections:
            self.limits.refused += 1
            transport.close()
            return
        self.limits.open += 1
        self.counted = True
        self._arm()

    def _arm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_later(self.idle, self._close)

    def _close(self) -> None:
        """Close now: replies the client has not read are dropped (close() would wait for it to read)."""
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.counted:
            self.limits.open -= 1
            self.counted = False
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if len(self.buf) > TCP_MAX_PENDING + 2:
            self._close()
            return
        while len(self.buf) >= 2:
            n = int.from_bytes(self.buf[:2], "big")
            if len(self.buf) < 2 + n:
                return
            msg = bytes(self.buf[2 : 2 + n])
            del self.buf[: 2 + n]
            self._arm()  # only a whole query buys more time: a byte now and then does not
            out = _safe(self.handler, msg, "tcp", self.peer)
            if out is not None and self.transport is not None:
                self.transport.write(len(out).to_bytes(2, "big") + out)
                if self.transport.get_write_buffer_size() > TCP_MAX_UNSENT:
                    self.transport.abort()  # a client that asks but never reads: drop what it left
                    return


def _socket(host: str, port: int, kind: socket.SocketKind, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    sock = socket.socket(family, kind)
    try:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:  # several processes answer on one port; the kernel spreads queries among them
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # 0.0.0.0 has its own socket
        if kind == socket.SOCK_DGRAM:
            with contextlib.suppress(OSError):  # the kernel caps it at net.core.rmem_max
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RCVBUF)
        sock.bind((host, port))
        if kind == socket.SOCK_STREAM:
            sock.listen(1024)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


@dataclass
class Listener:
    """The UDP and TCP sockets of one address."""

    host: str
    udp: asyncio.DatagramTransport
    tcp: asyncio.Server
    limits: TcpLimits

    @property
    def port(self) -> int:
        return int(self.tcp.sockets[0].getsockname()[1])

    def close(self) -> None:
        self.udp.close()
        self.tcp.close()


async def serve(
    handler: Handler,
    hosts: tuple[str, ...],
    port: int,
    reuse_port: bool = False,
    limits: TcpLimits | None = None,
) -> list[Listener]:
    """UDP and TCP on each address and the same port (port 0: the first free one, then shared).

    Without an explicit address list (DEFAULT_HOSTS), a machine without IPv6 is served on IPv4 alone.
    """
    loop = asyncio.get_running_loop()
    out: list[Listener] = []
    for host in hosts:
        try:
            tsock = _socket(host, port, socket.SOCK_STREAM, reuse_port)
        except OSError as err:
            if (
                hosts == DEFAULT_HOSTS
                and host == "::"
                and err.errno in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL)
            ):
                log.warning("no IPv6 on this host (%s): serving IPv4 only", err)
                continue
            for lst in out:
                lst.close()
            raise
        lim = limits or TcpLimits()
        tcp = await loop.create_server(lambda lim=lim: TcpProtocol(handler, lim), sock=tsock)  # type: ignore[misc]
        port = port or int(tsock.getsockname()[1])
        try:
            usock = _socket(host, port, socket.SOCK_DGRAM, reuse_port)
        except OSError:
            tcp.close()
            for lst in out:
                lst.close()
            raise
        udp, _ = await loop.create_datagram_endpoint(lambda: UdpProtocol(handler), sock=usock)
        out.append(Listener(host, udp, tcp, lim))
    return out
