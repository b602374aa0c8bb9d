"""etcd mirror: a paged read of the prefix, then a watch kept provably alive; resume or re-read on breaks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import grpc
import pyetcd
from pyetcd import etcdrpc
from pyetcd.etcdrpc import kv_pb2

from dnsserver.corefile import CorefileError, EtcdConfig
from dnsserver.index import Index
from dnsserver.observability import Metrics
from etcdconn import connection as etcd_conn
from extdns.skydns import normalize_prefix

log = logging.getLogger("dnsserver.store")
BACKOFF_MIN, BACKOFF_MAX = 0.2, 5.0
RPC_TIMEOUT = 5.0
# Watch liveness. A watch stream can go silent without breaking: a member cut off from its peers, a
# proxy or NAT that drops the flow, a stream the server cancelled without telling us. So the store asks
# etcd for a progress notification (WatchProgressRequest) whenever the stream has been quiet for
# PROGRESS_EVERY seconds, and treats WATCH_SILENCE_LIMIT seconds without any response (event or
# progress) as a broken watch: it reconnects (next endpoint first) and resumes from the last revision
# it holds, or re-reads everything if that revision was compacted. The watch also carries gRPC metadata
# `hasleader=true`, so a member that has lost its leader cancels it (etcd does so after three election
# timeouts) instead of serving a frozen view. The server-side `progress_notify` flag is set as well, but
# etcd sends those only every 10 minutes by default (--experimental-watch-progress-notify-interval).
PROGRESS_EVERY = 1.0
WATCH_SILENCE_LIMIT = 3.0
REQUIRE_LEADER = (("hasleader", "true"),)
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
        req = etcdrpc.RangeRequest(key=start, range_end=end, limit=page, revision=rev or 0)
        resp = client.kvstub.Range(
            req, client.timeout, credentials=client.call_credentials, metadata=client.metadata
        )
        rev = rev or int(resp.header.revision)
        items.extend((_key(kv.key), bytes(kv.value)) for kv in resp.kvs)
        if not resp.more or not resp.kvs:
            return rev, items
        start = bytes(resp.kvs[-1].key) + b"\0"


class EtcdSettingError(CorefileError):
    """An `etcd` block setting (tls, endpoint, credentials) that cannot be honoured: stops start-up."""


def conn_spec(cfg: EtcdConfig) -> etcd_conn.ConnSpec:
    """The connection as CoreDNS's etcd plugin makes it from the Corefile, or EtcdSettingError.

    `tls` takes 0 arguments (system CAs), 1 (CA file), 2 (client cert and key, system CAs) or 3 (cert,
    key, CA). https:// endpoints use TLS even without a `tls` line (etcd's Go client does, with the
    system CAs); endpoints without a scheme use TLS exactly when there is a `tls` line. Where CoreDNS
    would silently fall back to plaintext (a `tls` line with http:// endpoints) this is an error.
    """
    try:
        endpoints, secure = etcd_conn.parse_endpoints(cfg.endpoints, "etcd endpoint")
        tls = cfg.tls
        if tls is not None and len(tls) > 3:
            raise etcd_conn.EtcdConnError("etcd tls: at most 3 arguments (CERT KEY CACERT)")
        if tls is not None and secure is False:
            raise etcd_conn.EtcdConnError(
                f"etcd tls: the endpoints {' '.join(cfg.endpoints)} are plain http://; use https:// "
                "(CoreDNS would silently connect without TLS)"
            )
        ca = cert = key = ""
        if tls is not None and len(tls) in (1, 3):
            ca = tls[-1]
        if tls is not None and len(tls) >= 2:
            cert, key = tls[0], tls[1]
        spec = etcd_conn.ConnSpec(
            endpoints=endpoints,
            secure=bool(secure) or tls is not None,
            ca_file=ca,
            cert_file=cert,
            key_file=key,
            username=cfg.username,
            password=cfg.password,
            timeout=RPC_TIMEOUT,
        )
        names = {
            "ca": "etcd tls CA file",
            "cert": "etcd tls client certificate",
            "key": "etcd tls client key",
            "credentials": "etcd credentials",
        }
        spec.check(names)
        return spec
    except etcd_conn.EtcdConnError as e:
        raise EtcdSettingError(str(e)) from e


class _WatchBroken(Exception):
    """The watch stream ended, went silent or was cancelled; the message says which."""


class _Compacted(Exception):
    """The revision to resume from is compacted away: the mirror must be re-read."""


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
        self.conn = conn_spec(cfg)  # raises EtcdSettingError: checked before anything starts
        self.prefix = normalize_prefix(cfg.path)
        self.loop = loop
        self.metrics = metrics
        self.on_change = on_change  # key changed, or None for "everything" (a fresh snapshot)
        self.index = Index()
        self.loaded = False
        self.revision = 0  # of the last change applied
        self.snapshot_revision = 0  # of the last full read
        self.in_sync_since: float | None = None  # monotonic; None while the watch is broken
        # Monotonic time since which the mirror is not known to be in step (None: in step). On a break
        # it is the last time etcd was heard from, not the time the break was noticed.
        self.broken_since: float | None = time.monotonic()
        self.heard = time.monotonic()  # last response of the current watch (or snapshot read)
        self.label = f"{','.join(cfg.endpoints)}{self.prefix}"
        self._stop = threading.Event()
        self._call: Any = None  # the live Watch call, cancelled by stop()
        self._resume: int | None = None  # revision the mirror is complete up to (etcd thread's view)
        self._thread = threading.Thread(target=self._run, name=f"etcd-store{self.prefix}", daemon=True)
        self._state = "starting"
        self._endpoint = 0

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        call = self._call
        if call is not None:
            with contextlib.suppress(Exception):
                call.cancel()
        self._thread.join(timeout=10)

    def staleness(self) -> float:
        """Seconds since the mirror was last known to be in step with etcd (0 while the watch is alive)."""
        since = self.broken_since
        if since is None:
            return 0.0
        return max(0.0, time.monotonic() - since)

    # ------------------------------------------------------------ etcd thread

    def _client(self) -> Any:
        return etcd_conn.connect(self.conn, only=self._endpoint, extra_metadata=REQUIRE_LEADER)

    def _set_state(self, state: str, detail: str = "") -> None:
        if state != self._state:
            self._state = state
            msg = f"etcd {self.label}: {state}" + (f" ({detail})" if detail else "")
            (log.warning if state != "watching" else log.info)(msg)

    def _mark_broken(self) -> None:
        if self.broken_since is None:
            self.broken_since = self.heard
            self.in_sync_since = None

    def _run(self) -> None:
        backoff = BACKOFF_MIN
        while not self._stop.is_set():
            client = None
            try:
                client = self._client()
                if self._resume is None:
                    rev, items = read_prefix(client, self.prefix + "/")
                    idx, bad = Index.build(items)
                    done = threading.Event()
                    self.heard = time.monotonic()
                    self.loop.call_soon_threadsafe(self._swap, idx, bad, rev, done)
                    done.wait(30)
                    self._resume = rev
                    detail = f"{len(items)} keys at revision {rev}"
                else:
                    detail = f"resumed after revision {self._resume}"
                self._watch(client, self._resume, detail)
            except _Compacted as err:
                self._mark_broken()
                self._set_state("watch revision compacted, re-reading", str(err))
                self._resume = None
                continue
            except Exception as err:
                self._mark_broken()
                if self._stop.is_set():
                    break
                if isinstance(err, _WatchBroken):
                    self.metrics.count("watch_restarts_total", self.label)
                    state = "watch lost, serving the last snapshot"
                else:
                    self.metrics.count("etcd_errors_total", self.label)
                    state = "unreachable, serving the last snapshot"
                self._set_state(state, etcd_conn.describe(err))
                self._endpoint += 1
                self._stop.wait(backoff)
                backoff = min(BACKOFF_MAX, backoff * 2)
            else:
                backoff = BACKOFF_MIN
            finally:
                if client is not None:
                    with contextlib.suppress(Exception):
                        client.close()

    def _watch(self, client: Any, rev: int, detail: str) -> None:
        """Follow the prefix from rev until the stream breaks (raises) or the store stops (returns)."""
        start = (self.prefix + "/").encode("utf-8", "surrogateescape")
        create = etcdrpc.WatchCreateRequest(
            key=start,
            range_end=pyetcd.utils.prefix_range_end(start),
            # From rev itself, not rev + 1: etcd answers progress requests only once the store revision
            # has reached the watch's start revision, so a watch from the future would stay silent on an
            # idle etcd. The events of revision rev are applied again, which changes nothing.
            start_revision=rev,
            progress_notify=True,
        )
        progress = etcdrpc.WatchRequest(progress_request=etcdrpc.WatchProgressRequest())
        requests: queue.Queue[Any] = queue.Queue()
        requests.put(etcdrpc.WatchRequest(create_request=create))
        responses: queue.Queue[Any] = queue.Queue()
        stub = etcdrpc.WatchStub(client.channel)
        call = stub.Watch(
            iter(requests.get, None), credentials=client.call_credentials, metadata=client.metadata
        )
        self._call = call
        reader = threading.Thread(
            target=_read_stream, args=(call, responses), name=f"etcd-watch{self.prefix}", daemon=True
        )
        reader.start()
        heard = asked = time.monotonic()
        created = False
        try:
            while not self._stop.is_set():
                try:
                    item = responses.get(timeout=PROGRESS_EVERY / 4)
                except queue.Empty:
                    now = time.monotonic()
                    if now - heard >= WATCH_SILENCE_LIMIT:
                        raise _WatchBroken(f"no event or progress from etcd for {now - heard:.1f}s") from None
                    if created and now - heard >= PROGRESS_EVERY and now - asked >= PROGRESS_EVERY:
                        requests.put(progress)
                        asked = now
                    continue
                if isinstance(item, BaseException):
                    raise item
                heard = time.monotonic()
                if item.compact_revision:
                    raise _Compacted(f"compacted at revision {item.compact_revision}")
                if item.canceled:
                    raise _WatchBroken(f"cancelled by etcd: {item.cancel_reason or 'no reason given'}")
                if item.created and not created:
                    created = True
                    requests.put(progress)  # answered once etcd has sent everything up to now
                    asked = heard
                    continue
                self._take(item, heard, detail if self.broken_since is not None else "")
        finally:
            requests.put(None)
            self._call = None
            with contextlib.suppress(Exception):
                call.cancel()

    def _take(self, resp: Any, now: float, detail: str) -> None:
        """One response of a live watch: queue its events, advance the resume point, confirm freshness."""
        events = [
            (
                _key(ev.kv.key),
                None if ev.type == kv_pb2.Event.DELETE else bytes(ev.kv.value),
                int(ev.kv.mod_revision),
            )
            for ev in resp.events
        ]
        if events:
            self._resume = max(self._resume or 0, events[-1][2])
            self.loop.call_soon_threadsafe(self._apply, events)
        else:  # a progress notification: every event up to header.revision has been delivered
            self._resume = max(self._resume or 0, int(resp.header.revision))
        self.heard = now
        if self.broken_since is not None and not events and self.loaded:
            self.loop.call_soon_threadsafe(self._in_sync)
            self.broken_since = None
            self._set_state("watching", detail)

    # ------------------------------------------------------------ loop thread

    def _in_sync(self) -> None:
        self.in_sync_since = time.monotonic()

    def _swap(self, idx: Index, bad: list[tuple[str, str]], rev: int, done: threading.Event) -> None:
        for key, reason in bad:
            log.warning("etcd key %s skipped: %s", key, reason)
        if bad:
            self.metrics.count("bad_values_skipped_total", self.label, len(bad))
        self.index = idx
        self.revision = self.snapshot_revision = rev
        self.loaded = True
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


def _read_stream(call: Any, out: queue.Queue[Any]) -> None:
    """Reader thread: every watch response, then the error (or end) that closed the stream."""
    try:
        for resp in call:
            out.put(resp)
        out.put(_WatchBroken("etcd closed the watch stream"))
    except grpc.RpcError as err:
        out.put(err)
    except Exception as err:
        out.put(err)
