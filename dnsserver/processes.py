"""Several server processes on one port (SO_REUSEPORT), supervised, with one health, ready and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import os
import signal
import socket
import sys
import time
import traceback
from pathlib import Path

from dnsserver.app import App, new_loop
from dnsserver.corefile import CorefileError, ServerBlock
from dnsserver.observability import HttpOps, merge_metrics, merge_texts
from dnsserver.store import conn_spec

log = logging.getLogger("dnsserver")
CHILD_OPS = "127.0.0.1:0"  # each process's own health/ready/metrics: loopback, a free port
START_TIMEOUT = 60.0
RESTART_BACKOFF = (0.5, 10.0)  # first and longest wait before a process that died is started again
SCRAPE_TIMEOUT = 3.0
RESTART_LOAD_WAIT = 30.0  # a restarted process joins the port once it has the records, or after this long


def usable_cpus() -> int:
    """CPUs this process may use: its affinity set, lowered by a cgroup CPU quota (a container limit)."""
    n = len(os.sched_getaffinity(0))
    quota = _cgroup_quota()
    return max(1, min(n, math.ceil(quota))) if quota else n


def _cgroup_quota() -> float | None:
    v2 = Path("/sys/fs/cgroup/cpu.max")
    with contextlib.suppress(OSError, ValueError):
        if v2.is_file():
            q, period = v2.read_text().split()[:2]
            return None if q == "max" else int(q) / int(period)
        q1 = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        p1 = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        return q1 / p1 if q1 > 0 else None
    return None


def fixed_ports(blocks: list[ServerBlock], host: str) -> list[ServerBlock]:
    """Port 0 means "any free port": choose it here, once, so that every process binds the same one."""
    chosen: dict[int, int] = {}
    out = []
    for b in blocks:
        if b.port == 0:
            if 0 not in chosen:
                with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
                    s.bind((host or "127.0.0.1", 0))
                    chosen[0] = int(s.getsockname()[1])
            b = dataclasses.replace(b, port=chosen[0])
        out.append(b)
    return out


def _child(blocks: list[ServerBlock], host: str, report: int, wait_loaded: float) -> None:
    """One server process: serve until SIGTERM; its ops port goes to the parent through `report`."""
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    code = 0
    try:
        loop = new_loop()
        asyncio.set_event_loop(loop)
        app = App(blocks, host, reuse_port=True, ops_addr=CHILD_OPS)
        loop.run_until_complete(app.start(wait_loaded))
        os.write(report, f"{app.http.bound(CHILD_OPS)}\n".encode())
        os.close(report)
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        loop.run_until_complete(stop.wait())
        loop.run_until_complete(app.stop())
    except CorefileError as err:
        print(f"dnsserver: {err}", file=sys.stderr, flush=True)
        code = 2  # a setting no restart can fix
    except OSError as err:
        print(f"dnsserver: cannot listen: {err}", file=sys.stderr, flush=True)
        code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


@dataclasses.dataclass
class _Slot:
    pid: int = 0
    ops_port: int = 0  # 0 until the process listens
    started: float = 0.0
    failures: int = 0


class Supervisor:
    """Forks `n` server processes, restarts any that dies, and answers health/ready/metrics for all."""

    def __init__(self, blocks: list[ServerBlock], host: str, n: int) -> None:
        self.blocks = blocks
        self.host = host
        self.slots = [_Slot() for _ in range(n)]
        self.http = HttpOps()
        self.stopping = False
        self.failed = asyncio.Event()  # a process said its settings cannot work: no restart helps
        self.last: dict[int, str] = {}  # slot -> its last /metrics, stood in when it does not answer
        self.departed = ""  # the counters of processes that are gone (merge_texts without gauges)

    # ------------------------------------------------------------ processes

    def _spawn(self, i: int, restart: bool = False) -> None:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            for s in self.http.servers:  # the parent's sockets are not the child's business
                for sock in s.sockets:
                    with contextlib.suppress(OSError):
                        os.close(sock.fileno())
            _child(self.blocks, self.host, w, RESTART_LOAD_WAIT if restart else 0.0)
        os.close(w)
        slot = self.slots[i]
        slot.pid, slot.ops_port, slot.started = pid, 0, time.monotonic()
        loop = asyncio.get_running_loop()
        chunks: list[bytes] = []

        def readable() -> None:
            data = os.read(r, 64)
            if data:
                chunks.append(data)
                if not data.endswith(b"\n"):
                    return
            loop.remove_reader(r)
            os.close(r)
            line = b"".join(chunks).strip()
            if line.isdigit() and self.slots[i].pid == pid:
                self.slots[i].ops_port = int(line)

        loop.add_reader(r, readable)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            for i, slot in enumerate(self.slots):
                if slot.pid != pid:
                    continue
                slot.pid, slot.ops_port = 0, 0
                gone = self.last.pop(i, "")
                if gone:  # its counters stay in the server's totals
                    self.departed = merge_texts([self.departed, gone], gauges=False)
                if self.stopping:
                    continue
                if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 2:
                    log.error(
                        "dnsserver: process %d (pid %d) cannot run with these settings; stopping", i, pid
                    )
                    self.failed.set()
                    continue
                lived = time.monotonic() - slot.started
                slot.failures = 0 if lived > 60 else slot.failures + 1
                wait = min(RESTART_BACKOFF[1], RESTART_BACKOFF[0] * 2 ** max(0, slot.failures - 1))
                log.error(
                    "dnsserver: process %d (pid %d) exited (%s) after %.1f s; starting it again in %.1f s",
                    i,
                    pid,
                    _status(status),
                    lived,
                    wait,
                )
                asyncio.get_running_loop().call_later(wait, self._respawn, i)

    def _respawn(self, i: int) -> None:
        if not self.stopping and self.slots[i].pid == 0:
            self._spawn(i, restart=True)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGCHLD, self._reap)
        for i in range(len(self.slots)):
            self._spawn(i)
        deadline = time.monotonic() + START_TIMEOUT
        while not all(s.ops_port for s in self.slots):
            if any(s.pid == 0 for s in self.slots) or time.monotonic() > deadline:
                raise RuntimeError("a server process did not start (its error is above)")
            await asyncio.sleep(0.02)
        self._ops_routes()
        await self.http.start()

    async def stop(self) -> None:
        self.stopping = True
        await self.http.stop()
        for s in self.slots:
            if s.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(s.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while any(s.pid for s in self.slots) and time.monotonic() < deadline:
            self._reap()
            await asyncio.sleep(0.05)
        for s in self.slots:
            if s.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(s.pid, signal.SIGKILL)

    # ------------------------------------------------------------ health, ready, metrics of all

    def _ops_routes(self) -> None:
        for cfg in self.blocks:
            if cfg.health:
                self.http.add(cfg.health, "/health", self._health)
            if cfg.ready:
                self.http.add(cfg.ready, "/ready", self._ready)
            if cfg.prometheus:
                self.http.add(cfg.prometheus, "/metrics", self._metrics)

    async def _each(self, path: str) -> list[tuple[int, bytes] | None]:
        """(status, body) of `path` from every process; None for a process that is down or silent."""
        return list(await asyncio.gather(*(_get(s.ops_port, path) for s in self.slots)))

    async def _health(self) -> tuple[int, bytes, str]:
        """Alive while any process is: one being restarted is no reason to restart the whole pod."""
        got = await self._each("/health")
        ok = any(g is not None and g[0] == 200 for g in got)
        return (200, b"OK", "text/plain") if ok else (503, _down(got).encode(), "text/plain")

    async def _ready(self) -> tuple[int, bytes, str]:
        got = await self._each("/ready")
        ok = all(g is not None and g[0] == 200 for g in got)
        lines = [
            f"process {i}: " + (g[1].decode(errors="replace").strip() if g else "down")
            for i, g in enumerate(got)
        ]
        head = "OK" if ok else "not ready: " + _down(got)
        return (200 if ok else 503), ("\n".join([head, *lines]) + "\n").encode(), "text/plain"

    async def _metrics(self) -> tuple[int, bytes, str]:
        got = await self._each("/metrics")
        up = 0
        for i, g in enumerate(got):
            if g is not None and g[0] == 200 and self.slots[i].pid:
                self.last[i] = g[1].decode()
                up += 1
        texts = list(self.last.values())  # a slow process counts with its last scrape, never as zero
        body = merge_metrics(texts, len(self.slots), up, self.departed)
        return 200, body, "text/plain; version=0.0.4; charset=utf-8"


def _down(got: list[tuple[int, bytes] | None]) -> str:
    bad = [str(i) for i, g in enumerate(got) if g is None or g[0] != 200]
    return f"process {', '.join(bad)} of {len(got)} not answering 200"


def _status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


async def _get(port: int, path: str) -> tuple[int, bytes] | None:
    if not port:
        return None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), SCRAPE_TIMEOUT)
        try:
            writer.write(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
            raw = await asyncio.wait_for(reader.read(), SCRAPE_TIMEOUT)
        finally:
            writer.close()
        head, _, body = raw.partition(b"\r\n\r\n")
        return int(head.split()[1]), body
    except (OSError, TimeoutError, IndexError, ValueError):
        return None


async def lameduck(blocks: list[ServerBlock], failed: asyncio.Event | None = None) -> None:
    """CoreDNS's `health { lameduck D }`: go on answering for D after the stop signal (or until a failure).

    The cluster stops sending queries to a terminating pod meanwhile, so none is lost to the exit.
    """
    seconds = max(b.lameduck for b in blocks)
    if seconds:
        print(f"[INFO] lameduck: answering for {seconds}s more, then stopping", flush=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for((failed or asyncio.Event()).wait(), seconds)


def run(blocks: list[ServerBlock], host: str, n: int) -> int:
    """The parent: start `n` processes, print where they listen, supervise until SIGTERM/SIGINT."""
    blocks = fixed_ports(blocks, host)
    try:
        for b in blocks:  # a bad etcd setting is said once, here, not by every process
            if b.etcd is not None:
                conn_spec(b.etcd)
    except CorefileError as err:
        print(f"dnsserver: {err}", file=sys.stderr)
        return 1
    loop = asyncio.new_event_loop()  # the plain loop: the parent forks, and only serves ops HTTP
    asyncio.set_event_loop(loop)
    sup = Supervisor(blocks, host, n)
    try:
        loop.run_until_complete(sup.start())
    except (RuntimeError, OSError) as err:
        print(f"dnsserver: {err}", file=sys.stderr)
        loop.run_until_complete(sup.stop())
        return 1
    for port in sorted({b.port for b in blocks}):
        print(f"dns://:{port} ({n} processes)", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async def until_stopped() -> None:
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(sup.failed.wait())]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()

    loop.run_until_complete(until_stopped())
    if not sup.failed.is_set():
        loop.run_until_complete(lameduck(blocks, sup.failed))
    loop.run_until_complete(sup.stop())
    return 1 if sup.failed.is_set() else 0
