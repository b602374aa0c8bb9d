"""etcd mirror: one range read of the prefix, then a watch from the next revision; re-read on any break."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pyetcd

from dnsserver.corefile import EtcdConfig
from dnsserver.index import Index
from dnsserver.observability import Metrics
from extdns.skydns import normalize_prefix

log = logging.getLogger("dnsserver.store")
BACKOFF_MIN, BACKOFF_MAX = 0.2, 5.0
RPC_TIMEOUT = 5.0
PAGE = 5000  # keys per range read: one read of 100k records exceeds gRPC's 4 MiB message limit


def _key(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def read_prefix(client: Any, prefix: str, page: int = PAGE) -> tuple[int, list[tuple[str, bytes]]]:
    """Every key under prefix at one revision, read in pages: (revision, [(key, value)])."""
    start = prefix.encode("utf-8", "surrogateescape")
    end = pyetcd.utils.prefix_range_end(start)
    rev: int | None = None
    items: list[tuple[str, bytes]] = []
    while True:
        resp = client.get_range_response(start, end, limit=page, revision=rev)
        rev = rev or int(resp.header.revision)
        items.extend((_key(kv.key), bytes(kv.value)) for kv in resp.kvs)
        if not resp.more or not resp.kvs:
            return rev, items
        start = bytes(resp.kvs[-1].key) + b"\0"


class Store:
    """Keeps `index` in step with etcd; all index mutations run on the asyncio loop thread."""

    def __init__(
        self,
        cfg: EtcdConfig,
        loop: asyncio.AbstractEventLoop,
        metrics: Metrics,
        on_change: Callable[[str | None], None],
    ) -> None:
        self.cfg = cfg
        self.prefix = normalize_prefix(cfg.path)
        self.loop = loop
        self.metrics = metrics
        self.on_change = on_change  # key changed, or None for "everything" (a fresh snapshot)
        self.index = Index()
        self.loaded = False
        self.revision = 0  # of the last change applied
        self.snapshot_revision = 0  # of the last full read
        self.in_sync_since: float | None = None  # monotonic; None while the watch is broken
        self.broken_since: float | None = time.monotonic()
        self.label = f"{','.join(cfg.endpoints)}{self.prefix}"
        self._stop = threading.Event()
        self._broken = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"etcd-store{self.prefix}", daemon=True)
        self._state = "starting"
        self._endpoint = 0

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._broken.set()
        self._thread.join(timeout=10)

    def staleness(self) -> float:
        """Seconds since the mirror was last known to be in step with etcd (0 while the watch runs)."""
        if self.broken_since is None:
            return 0.0
        return time.monotonic() - self.broken_since

    # ------------------------------------------------------------ etcd thread

    def _client(self) -> Any:
        url = urlsplit(self.cfg.endpoints[self._endpoint % len(self.cfg.endpoints)])
        if not url.hostname:
            url = urlsplit("http://" + self.cfg.endpoints[self._endpoint % len(self.cfg.endpoints)])
        kw: dict[str, Any] = {"host": url.hostname, "port": url.port or 2379, "timeout": RPC_TIMEOUT}
        if self.cfg.username and self.cfg.password:
            kw.update(user=self.cfg.username, password=self.cfg.password)
        tls = self.cfg.tls
        if tls is not None and len(tls) in (1, 3):
            kw["ca_cert"] = tls[-1]
        if tls is not None and len(tls) >= 2:
            kw.update(cert_cert=tls[0], cert_key=tls[1])
        return pyetcd.client(**kw)

    def _set_state(self, state: str, detail: str = "") -> None:
        if state != self._state:
            self._state = state
            msg = f"etcd {self.label}: {state}" + (f" ({detail})" if detail else "")
            (log.warning if state != "watching" else log.info)(msg)

    def _run(self) -> None:
        backoff = BACKOFF_MIN
        while not self._stop.is_set():
            client = None
            watch_id = None
            try:
                client = self._client()
                self._broken.clear()
                rev, items = read_prefix(client, self.prefix + "/")
                idx, bad = Index.build(items)
                done = threading.Event()
                self.loop.call_soon_threadsafe(self._swap, idx, bad, rev, done)
                done.wait(30)
                watch_id = client.add_watch_prefix_callback(
                    self.prefix + "/", self._on_watch, start_revision=rev + 1
                )
                self._set_state("watching", f"{len(items)} keys at revision {rev}")
                backoff = BACKOFF_MIN
                self._broken.wait()
                if not self._stop.is_set():
                    self.metrics.count("watch_restarts_total", self.label)
            except Exception as err:
                self.broken_since = self.broken_since or time.monotonic()
                self.metrics.count("etcd_errors_total", self.label)
                self._set_state("unreachable, serving the last snapshot", f"{type(err).__name__}: {err}")
                self._endpoint += 1
                self._stop.wait(backoff)
                backoff = min(BACKOFF_MAX, backoff * 2)
            finally:
                if client is not None:
                    if watch_id is not None:
                        with contextlib.suppress(Exception):
                            client.cancel_watch(watch_id)
                    with contextlib.suppress(Exception):
                        client.close()

    def _on_watch(self, resp: object) -> None:
        """Watch callback (gRPC thread): errors (compaction, lost stream) trigger a re-read."""
        if isinstance(resp, BaseException) or resp is None:
            if self.broken_since is None:
                self.broken_since = time.monotonic()
            self._set_state("watch lost, re-reading", f"{type(resp).__name__}: {resp}")
            self._broken.set()
            return
        events = [
            (
                _key(ev.key),
                bytes(ev.value) if isinstance(ev, pyetcd.events.PutEvent) else None,
                int(ev.mod_revision),
            )
            for ev in getattr(resp, "events", [])
        ]
        if events:
            self.loop.call_soon_threadsafe(self._apply, events)

    # ------------------------------------------------------------ loop thread

    def _swap(self, idx: Index, bad: list[tuple[str, str]], rev: int, done: threading.Event) -> None:
        for key, reason in bad:
            log.warning("etcd key %s skipped: %s", key, reason)
        if bad:
            self.metrics.count("bad_values_skipped_total", self.label, len(bad))
        self.index = idx
        self.revision = self.snapshot_revision = rev
        self.loaded = True
        self.broken_since = None
        self.in_sync_since = time.monotonic()
        self.on_change(None)
        done.set()

    def _apply(self, events: list[tuple[str, bytes | None, int]]) -> None:
        for key, value, rev in events:
            if rev <= self.snapshot_revision or rev < self.revision:
                continue  # a late event from an older watch; the keys of one transaction share a revision
            self.revision = rev
            if value is None:
                self.index.delete(key)
            else:
                problem = self.index.put(key, value)
                if problem is not None:
                    log.warning("etcd key %s skipped: %s", key, problem)
                    self.metrics.count("bad_values_skipped_total", self.label)
            self.on_change(key)
