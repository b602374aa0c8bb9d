"""The query path for one port: cache and answer-memo fast paths, zone dispatch, lookup, metrics, log."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from dnslib import QTYPE, RCODE, RR

from dnsserver import lookup, wire
from dnsserver.cache import FOREVER, MEMO_CAPACITY, MIN_TTL, NO_SERIAL, AnswerCache, CacheEntry, serial_offset
from dnsserver.corefile import ServerBlock
from dnsserver.index import Ready
from dnsserver.lookup import Result, Zone, is_subdomain
from dnsserver.observability import Metrics, QueryLog, log_line
from dnsserver.ratelimit import RateLimiter, Verdict
from dnsserver.store import Store

log = logging.getLogger("dnsserver")
MAX_REENTRY = 4


@dataclass
class Block:
    """A server block bound to its runtime parts."""

    cfg: ServerBlock
    store: Store | None
    cache: AnswerCache | None
    server: str  # metric label, e.g. "dns://:53"
    zones_label: str = field(init=False)

    def __post_init__(self) -> None:
        self.zones_label = " ".join(self.cfg.zones)


def _rcode_name(rcode: int) -> str:
    try:
        return str(RCODE[rcode])
    except Exception:
        return str(rcode)


def _longest(zones: tuple[str, ...], name: str) -> str | None:
    best: str | None = None
    for z in zones:
        if is_subdomain(z, name) and (best is None or len(z) > len(best)):
            best = z
    return best


class Engine:
    """Answers raw queries for every server block on one port."""

    def __init__(
        self,
        blocks: list[Block],
        metrics: Metrics,
        querylog: QueryLog | None = None,
        memo_capacity: int = MEMO_CAPACITY,
    ) -> None:
        self.blocks = blocks
        self.metrics = metrics
        self.querylog = querylog or QueryLog()
        self.caches = [b.cache for b in blocks if b.cache is not None]
        # Replies of blocks without `cache`: exact (no TTL capping), kept until an etcd change touches them.
        self.memo = AnswerCache(memo_capacity)
        limits = [b.cfg.ratelimit for b in blocks if b.cfg.ratelimit is not None]
        self.limiter = RateLimiter(limits[0]) if limits else None  # one per port: the blocks agree

    # ------------------------------------------------------------ dispatch

    def _block_for(self, name: str) -> tuple[Block, str] | None:
        best: tuple[Block, str] | None = None
        for b in self.blocks:
            z = _longest(b.cfg.zones, name)
            if z is not None and (best is None or len(z) > len(best[1])):
                best = (b, z)
        return best

    def resolve(
        self,
        qname: str,
        qtype: int,
        deps: set[str],
        depth: int = 0,
        query: wire.Query | None = None,
        proto: str = "udp",
    ) -> tuple[Result, Block | None, str]:
        """The answer of the whole server for one question (also the upstream re-entry for CNAME targets)."""
        name = qname.lower()
        found = self._block_for(name)
        if found is None:
            return Result(wire.REFUSED), None, "."
        block, bzone = found
        store = block.store
        etcd = block.cfg.etcd
        ezone = _longest(etcd.zones, name) if etcd is not None else None
        if store is None or etcd is None or ezone is None:
            return Result(wire.SERVFAIL, error="no next plugin found"), block, bzone
        serial = int(time.time())
        if not store.loaded:
            return (
                Result(
                    wire.SERVFAIL, authority=[lookup.soa(ezone, serial)], error="no etcd snapshot loaded yet"
                ),
                block,
                bzone,
            )

        def upstream(target: str, t: int) -> tuple[list[RR], bool] | None:
            if depth >= MAX_REENTRY:
                return None
            res, _, _ = self.resolve(target, t, deps, depth + 1)
            return res.answer, res.truncated

        z = Zone(ezone, store.prefix, store.index, etcd.fallthrough, upstream, deps)
        if depth == 0:
            z.question = qname
        if query is not None:  # answers past what the reply can carry need not be gathered
            z.max_records = wire.budget(query, proto, block.cfg.bufsize) // lookup.MIN_RECORD + 1
        res = lookup.answer(z, qname, qtype, serial)
        if res.fallthrough:
            return Result(wire.SERVFAIL, error="no next plugin found"), block, bzone
        return res, block, bzone

    # ------------------------------------------------------------ wire entry point

    def handle(self, data: bytes, proto: str, addr: tuple[str, int]) -> bytes | None:
        start = time.perf_counter()
        now = time.monotonic()
        if self.limiter is not None and proto == "udp":
            verdict = self.limiter.check(addr[0], now)
            if verdict is not Verdict.SEND:
                self.metrics.ratelimited[verdict.value] = self.metrics.ratelimited.get(verdict.value, 0) + 1
                return wire.slipped(data) if verdict is Verdict.SLIP else None
        for cache in self.caches:  # fast paths: the same query bytes were answered before
            hit = cache.get(proto, data, now)
            if hit is not None:
                out = hit.reply(data)
                self._account(hit.labels, proto, addr, data, out, start, "cache", hit=True, denial=hit.denial)
                return out
        hit = self.memo.get(proto, data, now)
        if hit is not None:
            self.metrics.memo[True] += 1
            out = hit.reply(data)
            self._account(hit.labels, proto, addr, data, out, start, "etcd", hit=False, denial=hit.denial)
            return out
        q = wire.decode(data)
        if q is None:
            return None
        if isinstance(q, bytes):
            self.metrics.request("dns://", ".", proto, "1", "other")
            return q
        if q.qclass != 1:
            return wire.encode(q, wire.REFUSED, [], [], [], proto, aa=False)
        deps: set[str] = set()
        self.metrics.memo[False] += 1  # a lookup: what the memo could not answer
        try:
            res, block, zone = self.resolve(q.qname, q.qtype, deps, query=q, proto=proto)
        except Exception as err:  # a bug must cost one answer, never the server
            log.exception("lookup failed for %s %s", q.qname, q.qtype)
            res, block, zone = Result(wire.SERVFAIL, error=str(err)), None, "."
        if block is None:
            out = wire.encode(q, res.rcode, [], [], [], proto, aa=False)
            self._log_query(None, q, proto, addr, out, start, zone)
            return out
        ttl: int | None = None
        # `any` answers before the cache plugin, as in CoreDNS's plugin order: its TTL is not capped.
        cacheable = res.rcode in (wire.NOERROR, wire.NXDOMAIN) and res.authoritative  # TC too: deterministic
        if block.cache is not None and cacheable:
            ttl = self._cap_ttl(block, res)
        try:
            out = wire.encode(
                q,
                res.rcode,
                res.answer,
                res.authority,
                res.additional,
                proto,
                aa=res.authoritative,
                tc=res.truncated,
                bufsize=block.cfg.bufsize,
            )
        except Exception as err:  # e.g. a stored host that is not a valid DNS name
            log.warning("cannot encode the answer to %s %s: %s", q.qname, wire.qtype_name(q.qtype), err)
            res = Result(wire.SERVFAIL, error=f"encode: {err}")
            out = wire.encode(q, wire.SERVFAIL, [], [], [], proto, bufsize=block.cfg.bufsize)
            ttl = None
        if res.error and block.cfg.errors:
            log.error("plugin/errors: 2 %s %s: %s", q.qname, wire.qtype_name(q.qtype), res.error)
        labels = (
            block.server,
            zone,
            wire.qtype_name(q.qtype),
            _rcode_name(res.rcode),
            str(int(block.cfg.log)),
        )
        denial = res.rcode == wire.NXDOMAIN or not res.answer
        if block.cache is not None:
            self.metrics.cache(block.server, block.zones_label, hit=False, denial=denial)
        if res.rcode in (wire.NOERROR, wire.NXDOMAIN):  # TC replies too: they are deterministic
            n = len(q.question) - 4
            # Where the name ends in the query after its ID; 0 (exact hits only) for a query whose name
            # is not spelled out where the reply's is (a compression pointer in the question).
            name_end = 10 + n if data[12 : 12 + n] == q.question[:n] else 0
            entry = CacheEntry(data[2:], out, FOREVER, tuple(sorted(deps)), labels, denial, name_end=name_end)
            self._keep(block, res, q, proto, data, ttl, entry)
        self._account(labels, proto, addr, data, out, start, "etcd", hit=False, denial=denial, query=q)
        return out

    def _keep(
        self,
        block: Block,
        res: Result,
        q: wire.Query,
        proto: str,
        data: bytes,
        ttl: int | None,
        entry: CacheEntry,
    ) -> None:
        """Store a reply: in the block's cache for the capped TTL, else in the memo until etcd changes it."""
        if block.cache is not None:
            if ttl is not None:
                entry.expires = time.monotonic() + ttl
                block.cache.put(proto, data, entry)
            return
        soa = [r for r in (*res.answer, *res.authority) if r.rtype == QTYPE.SOA]
        if soa:
            entry.serial_at = serial_offset(entry.packed, soa[-1].rdata.times[0], q.edns is not None)
            if entry.serial_at == NO_SERIAL:
                return  # the SOA is not where we can refresh its serial: do not memoise
        self.memo.put(proto, data, entry)

    def _cap_ttl(self, block: Block, res: Result) -> int:
        """CoreDNS cache: every RR of the reply gets min(RR TTLs) clamped to [5, cap]; returns that TTL."""
        rrs = [*res.answer, *res.authority, *res.additional]
        denial = res.rcode == wire.NXDOMAIN or not res.answer
        assert block.cfg.cache is not None
        cap = block.cfg.cache.denial_ttl if denial else block.cfg.cache.max_ttl
        low = min((r.ttl for r in rrs), default=cap)
        for r in rrs:
            if r.rtype == QTYPE.SOA:
                low = min(low, r.rdata.times[4])
        ttl = max(MIN_TTL, min(low, cap))
        for section in (res.answer, res.authority, res.additional):
            for i, r in enumerate(section):
                if isinstance(r, Ready):  # shared with the index: replaced, never changed
                    section[i] = r.with_ttl(ttl)
                else:
                    r.ttl = ttl
        return ttl

    def _account(
        self,
        labels: tuple[str, ...],
        proto: str,
        addr: tuple[str, int],
        data: bytes,
        out: bytes,
        start: float,
        plugin: str,
        hit: bool,
        denial: bool,
        query: wire.Query | None = None,
    ) -> None:
        server, zone, qtype, rcode, logged = labels
        family = "2" if ":" in addr[0] else "1"
        m = self.metrics
        m.request(server, zone, proto, family, qtype)
        m.response(server, zone, rcode, plugin, qtype, time.perf_counter() - start)
        if hit:
            m.cache(server, self._zones_of(server, zone), hit=True, denial=denial)
        if logged == "1":
            q = query if query is not None else wire.decode(data)
            if isinstance(q, wire.Query):
                self._write_log(q, proto, addr, out, start, rcode)

    def _zones_of(self, server: str, zone: str) -> str:
        for b in self.blocks:
            if zone in b.cfg.zones:
                return b.zones_label
        return zone

    def _log_query(
        self,
        block: Block | None,
        q: wire.Query,
        proto: str,
        addr: tuple[str, int],
        out: bytes,
        start: float,
        zone: str,
    ) -> None:
        rcode = _rcode_name(out[3] & 0xF)
        self.metrics.request("dns://", zone, proto, "2" if ":" in addr[0] else "1", wire.qtype_name(q.qtype))
        self.metrics.response(
            "dns://", zone, rcode, "", wire.qtype_name(q.qtype), time.perf_counter() - start
        )
        if any(b.cfg.log for b in self.blocks):
            self._write_log(q, proto, addr, out, start, rcode)

    def _write_log(
        self, q: wire.Query, proto: str, addr: tuple[str, int], out: bytes, start: float, rcode: str
    ) -> None:
        self.querylog.write(
            log_line(
                addr,
                q.id,
                wire.qtype_name(q.qtype),
                wire.qclass_name(q.qclass),
                q.qname,
                proto,
                q.size,
                bool(q.edns and q.edns.do),
                q.edns.udp_size if q.edns else 512,
                rcode,
                out,
                time.perf_counter() - start,
            )
        )

    def invalidate(self, key: str | None) -> None:
        """An index change: drop cached and memoised answers that read this key (all, for a new snapshot)."""
        for c in (*self.caches, self.memo):
            if key is None:
                c.clear()
            else:
                c.invalidate_key(key)
