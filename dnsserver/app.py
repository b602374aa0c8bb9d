"""Assemble a running server from parsed server blocks: stores, engines per port, listeners, ops HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Iterator

from dnsserver import listen
from dnsserver.cache import AnswerCache
from dnsserver.corefile import EtcdConfig, ServerBlock
from dnsserver.observability import HttpOps, Metrics, QueryLog, Route
from dnsserver.server import Block, Engine
from dnsserver.store import Store

log = logging.getLogger("dnsserver")


class App:
    """Everything one `python -m dnsserver` process runs, on one asyncio loop."""

    def __init__(
        self,
        blocks: list[ServerBlock],
        host: str = "",
        querylog: QueryLog | None = None,
        reuse_port: bool = False,
        ops_addr: str | None = None,
    ) -> None:
        self.cfgs = blocks
        self.host = host  # overrides every block's `bind` (the -dns.host flag)
        self.reuse_port = reuse_port  # one of several processes on the same port
        self.ops_addr = ops_addr  # serve health/ready/metrics here instead of the Corefile's addresses
        self.metrics = Metrics()
        self.querylog = querylog or QueryLog()
        self.stores: dict[EtcdConfig, Store] = {}
        self.engines: dict[int, Engine] = {}
        self.listeners: list[listen.Listener] = []
        self.http = HttpOps()
        self.ports: dict[int, int] = {}  # configured port -> bound port

    async def start(self, wait_loaded: float = 0.0) -> None:
        """Listen and serve; with `wait_loaded`, first wait (that long at most) for every etcd snapshot.

        A process restarted beside others that already answer waits: until it has the records, the
        queries the kernel would hand it could only be answered SERVFAIL.
        """
        loop = asyncio.get_running_loop()
        by_port: dict[int, list[Block]] = {}
        for cfg in self.cfgs:
            store = None
            if cfg.etcd is not None:
                key = EtcdConfig(
                    zones=(),
                    path=cfg.etcd.path,
                    endpoints=cfg.etcd.endpoints,
                    username=cfg.etcd.username,
                    password=cfg.etcd.password,
                    tls=cfg.etcd.tls,
                )
                store = self.stores.get(key)
                if store is None:
                    store = Store(cfg.etcd, loop, self.metrics, self._changed)
                    self.stores[key] = store
            cache = AnswerCache(cfg.cache.capacity) if cfg.cache is not None else None
            by_port.setdefault(cfg.port, []).append(Block(cfg, store, cache, f"dns://:{cfg.port}"))
        for port, blocks in by_port.items():
            self.engines[port] = Engine(blocks, self.metrics, self.querylog)
        if wait_loaded:
            for store in self.stores.values():
                store.start()
            deadline = loop.time() + wait_loaded
            while not all(st.loaded for st in self.stores.values()) and loop.time() < deadline:
                await asyncio.sleep(0.02)
        for port, blocks in by_port.items():
            engine = self.engines[port]
            hosts = (self.host,) if self.host else blocks[0].cfg.bind or listen.DEFAULT_HOSTS
            try:
                bound = await listen.serve(engine.handle, hosts, port, self.reuse_port)
            except OSError:
                self._close_listeners()
                raise
            self.listeners.extend(bound)
            self.ports[port] = bound[0].port
        self._ops_routes()
        await self.http.start()
        if not wait_loaded:
            for store in self.stores.values():
                store.start()

    def _changed(self, key: str | None) -> None:
        for engine in self.engines.values():
            engine.invalidate(key)

    def _ops_routes(self) -> None:
        health: Route = lambda: (200, b"OK", "text/plain")  # noqa: E731
        if self.ops_addr:  # one of several processes: the parent asks for all three here
            for path, route in (("/health", health), ("/ready", self._ready), ("/metrics", self._metrics)):
                self.http.add(self.ops_addr, path, route)
        for cfg in [] if self.ops_addr else self.cfgs:
            if cfg.health:
                self.http.add(cfg.health, "/health", health)
            if cfg.ready:
                self.http.add(cfg.ready, "/ready", self._ready)
            if cfg.prometheus:
                self.http.add(cfg.prometheus, "/metrics", self._metrics)
        self.metrics.gauges["keys_loaded"] = lambda: float(sum(len(s.index) for s in self.stores.values()))
        self.metrics.gauges["snapshot_age_seconds"] = lambda: max(
            (s.staleness() for s in self.stores.values()), default=0.0
        )
        self.metrics.gauges["snapshot_loaded"] = lambda: float(all(s.loaded for s in self.stores.values()))
        self.metrics.gauges["tcp_connections"] = lambda: float(sum(x.limits.open for x in self.listeners))
        self.metrics.gauges["tcp_connections_refused"] = lambda: float(
            sum(x.limits.refused for x in self.listeners)
        )

    def _metrics(self) -> tuple[int, bytes, str]:
        return 200, self.metrics.render(), "text/plain; version=0.0.4; charset=utf-8"

    def _ready(self) -> tuple[int, bytes, str]:
        """200 once every store has a snapshot (even a stale one); the body says how stale."""
        state = {
            s.label: {
                "loaded": s.loaded,
                "keys": len(s.index),
                "revision": s.revision,
                "stale_seconds": round(s.staleness(), 3),
            }
            for s in self.stores.values()
        }
        ok = all(s.loaded for s in self.stores.values())
        body = ("OK\n" if ok else "not ready: no etcd snapshot\n") + json.dumps(state, sort_keys=True) + "\n"
        return (200 if ok else 503), body.encode(), "text/plain"

    def _close_listeners(self) -> None:
        for lst in self.listeners:
            lst.close()
        self.listeners.clear()

    async def stop(self) -> None:
        self._close_listeners()
        await self.http.stop()
        loop = asyncio.get_running_loop()
        for store in self.stores.values():
            await loop.run_in_executor(None, store.stop)


def new_loop() -> asyncio.AbstractEventLoop:
    """A uvloop loop where installed, else the default."""
    try:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    return loop


@contextlib.contextmanager
def running(
    blocks: list[ServerBlock], host: str = "127.0.0.1", querylog: QueryLog | None = None
) -> Iterator[App]:
    """Run an App on a loop in a background thread (tests, benchmarks); stop it on exit."""
    loop = new_loop()
    app = App(blocks, host, querylog)
    started = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(app.start())
        except BaseException as e:
            errors.append(e)
            started.set()
            return
        started.set()
        loop.run_forever()

    t = threading.Thread(target=run, name="dnsserver", daemon=True)
    t.start()
    started.wait(30)
    if errors:
        raise errors[0]
    try:
        yield app
    finally:
        asyncio.run_coroutine_threadsafe(app.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        t.join(10)
        loop.close()
