"""Operations: CoreDNS-named Prometheus metrics, the CoreDNS query-log line, and health/ready/metrics HTTP."""

from __future__ import annotations

import asyncio
import inspect
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TextIO

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

# plugin.TimeBuckets: ExponentialBuckets(0.00025, 2, 16)
BUCKETS = tuple(0.00025 * 2**i for i in range(16))
KNOWN_TYPES = frozenset(
    (
        "A",
        "AAAA",
        "NS",
        "PTR",
        "SOA",
        "CNAME",
        "MX",
        "TXT",
        "SRV",
        "NAPTR",
        "DS",
        "DNSKEY",
        "IXFR",
        "AXFR",
        "ANY",
        "HTTPS",
        "SVCB",
        "CAA",
        "OPT",
        "NSEC",
        "NSEC3",
        "RRSIG",
    )
)


class Metrics(Collector):
    """Plain-dict counters on the query path, turned into Prometheus families only when scraped."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, ...], int] = {}
        self.responses: dict[tuple[str, ...], int] = {}
        self.durations: dict[tuple[str, ...], list[float]] = {}  # bucket counts..., sum, count
        self.cache_hits: dict[tuple[str, ...], int] = {}
        self.cache_misses: dict[tuple[str, ...], int] = {}
        self.gauges: dict[str, Callable[[], float]] = {}
        self.store_counters: dict[tuple[str, str], int] = {}
        self.ratelimited: dict[str, int] = {}  # "drop" / "slip" -> responses
        self.memo = {True: 0, False: 0}  # answer memo hits, and queries that needed a lookup
        self.registry = CollectorRegistry()
        self.registry.register(self)

    def request(self, server: str, zone: str, proto: str, family: str, qtype: str) -> None:
        k = (server, zone, proto, family, qtype if qtype in KNOWN_TYPES else "other")
        self.requests[k] = self.requests.get(k, 0) + 1

    def response(self, server: str, zone: str, rcode: str, plugin: str, qtype: str, seconds: float) -> None:
        k = (server, zone, rcode, plugin)
        self.responses[k] = self.responses.get(k, 0) + 1
        hk = (server, zone, qtype if qtype in KNOWN_TYPES else "other")
        h = self.durations.get(hk)
        if h is None:
            h = self.durations[hk] = [0.0] * (len(BUCKETS) + 2)
        for i, b in enumerate(BUCKETS):
            if seconds <= b:
                h[i] += 1
                break
        h[-2] += seconds
        h[-1] += 1

    def cache(self, server: str, zones: str, hit: bool, denial: bool) -> None:
        if hit:
            k = (server, "denial" if denial else "success", zones)
            self.cache_hits[k] = self.cache_hits.get(k, 0) + 1
        else:
            m = (server, zones)
            self.cache_misses[m] = self.cache_misses.get(m, 0) + 1

    def count(self, name: str, label: str, n: int = 1) -> None:
        """A store counter such as bad values skipped or watch restarts, labelled by store."""
        k = (name, label)
        self.store_counters[k] = self.store_counters.get(k, 0) + n

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        req = CounterMetricFamily(
            "coredns_dns_requests",
            "Counter of DNS requests made per zone, protocol and family.",
            labels=["server", "zone", "view", "proto", "family", "type"],
        )
        for (s, z, p, f, t), v in list(self.requests.items()):
            req.add_metric([s, z, "", p, f, t], v)
        yield req
        resp = CounterMetricFamily(
            "coredns_dns_responses",
            "Counter of response status codes.",
            labels=["server", "zone", "view", "rcode", "plugin"],
        )
        for (s, z, r, pl), v in list(self.responses.items()):
            resp.add_metric([s, z, "", r, pl], v)
        yield resp
        hist = HistogramMetricFamily(
            "coredns_dns_request_duration_seconds",
            "Histogram of the time (in seconds) each request took.",
            labels=["server", "zone", "view", "type"],
        )
        for (s, z, t), h in list(self.durations.items()):
            acc = 0.0
            buckets = []
            for i, b in enumerate(BUCKETS):
                acc += h[i]
                buckets.append((repr(b), acc))
            buckets.append(("+Inf", h[-1]))
            hist.add_metric([s, z, "", t], buckets, h[-2])
        yield hist
        hits = CounterMetricFamily(
            "coredns_cache_hits", "The count of cache hits.", labels=["server", "type", "zones", "view"]
        )
        for (s, t, z), v in list(self.cache_hits.items()):
            hits.add_metric([s, t, z, ""], v)
        yield hits
        misses = CounterMetricFamily(
            "coredns_cache_misses", "The count of cache misses.", labels=["server", "zones", "view"]
        )
        for (s, z), v in list(self.cache_misses.items()):
            misses.add_metric([s, z, ""], v)
        yield misses
        limited = CounterMetricFamily(
            "extdns_dnsserver_ratelimited_responses",
            "UDP responses withheld by ratelimit: dropped, or slipped (sent as a small TC reply).",
            labels=["action"],
        )
        for action, v in list(self.ratelimited.items()):
            limited.add_metric([action], v)
        yield limited
        for hit, word in ((True, "hits"), (False, "lookups")):
            c = CounterMetricFamily(
                f"extdns_dnsserver_answer_memo_{word}",
                "Replies served from the answer memo."
                if hit
                else "Queries answered by a lookup in the index.",
            )
            c.add_metric([], self.memo[hit])
            yield c
        names = sorted({n for n, _ in self.store_counters})
        for n in names:
            c = CounterMetricFamily(f"extdns_dnsserver_{n}", f"Store counter {n}.", labels=["store"])
            for (n2, label), v in list(self.store_counters.items()):
                if n2 == n:
                    c.add_metric([label], v)
            yield c
        for name, fn in list(self.gauges.items()):
            g = GaugeMetricFamily(f"extdns_dnsserver_{name}", f"Store gauge {name}.")
            g.add_metric([], fn())
            yield g

    def render(self) -> bytes:
        out: bytes = generate_latest(self.registry)
        return out


FLAG_NAMES = (
    ("qr", 0x8000),
    ("aa", 0x0400),
    ("tc", 0x0200),
    ("rd", 0x0100),
    ("ra", 0x0080),
    ("z", 0x0040),
    ("ad", 0x0020),
    ("cd", 0x0010),
)


def log_line(
    remote: tuple[str, int],
    qid: int,
    qtype: str,
    qclass: str,
    qname: str,
    proto: str,
    size: int,
    do: bool,
    bufsize: int,
    rcode: str,
    reply: bytes,
    seconds: float,
) -> str:
    """Format one query the way CoreDNS's `log` plugin does by default.

    {remote}:{port} - {>id} "{type} {class} {name} {proto} {size} {>do} {>bufsize}" {rcode} {>rflags}
    {rsize} {duration}
    """
    flags = int.from_bytes(reply[2:4], "big") if len(reply) >= 4 else 0
    rflags = ",".join(n for n, bit in FLAG_NAMES if flags & bit)
    host = f"[{remote[0]}]" if ":" in remote[0] else remote[0]
    return (
        f'[INFO] {host}:{remote[1]} - {qid} "{qtype} {qclass} {qname} {proto} {size} {str(do).lower()} '
        f'{bufsize}" {rcode} {rflags} {len(reply)} {seconds:.9f}s'
    )


class QueryLog:
    """Buffered writer of query-log lines to stdout."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout

    def write(self, line: str) -> None:
        self.out.write(line + "\n")


# Gauges that every process reports about the same etcd data: the whole server's value is not the sum.
GAUGE_MERGE: dict[str, Callable[[list[float]], float]] = {
    "extdns_dnsserver_keys_loaded": max,
    "extdns_dnsserver_snapshot_loaded": min,
    "extdns_dnsserver_snapshot_age_seconds": max,
}


def merge_texts(texts: list[str], gauges: bool = True) -> str:
    """Prometheus text of several processes as one: counters and histograms summed, gauges by rule.

    Without `gauges`, only what only grows: the totals of processes that are gone, kept so that the
    server's counters never go back when one of its processes is restarted.
    """
    families: dict[str, tuple[str, str, dict[tuple[str, tuple[tuple[str, str], ...]], list[float]]]] = {}
    for text in texts:
        for fam in text_string_to_metric_families(text):
            if fam.type == "gauge" and not gauges:
                continue
            _, _, samples = families.setdefault(fam.name, (fam.type, fam.documentation, {}))
            for sm in fam.samples:
                if sm.name.endswith("_created"):
                    continue
                samples.setdefault((sm.name, tuple(sorted(sm.labels.items()))), []).append(sm.value)
    out: list[str] = []
    for name, (kind, doc, samples) in families.items():
        shown = f"{name}_total" if kind == "counter" else name
        out += [f"# HELP {shown} {doc}", f"# TYPE {shown} {kind}"]
        combine = GAUGE_MERGE.get(name, sum) if kind == "gauge" else sum
        for (sample, labels), values in samples.items():
            lab = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
            value = float(combine(values))
            out.append(f"{sample}{{{lab}}} {value!r}" if lab else f"{sample} {value!r}")
    return "\n".join(out) + "\n" if out else ""


def merge_metrics(texts: list[str], processes: int, up: int, departed: str = "") -> bytes:
    """One server's /metrics: its processes' scrapes merged, plus `departed` (merge_texts without gauges)."""
    lines = [
        merge_texts([*texts, departed] if departed else texts).rstrip("\n"),
        "# HELP extdns_dnsserver_processes Server processes configured.",
        "# TYPE extdns_dnsserver_processes gauge",
        f"extdns_dnsserver_processes {float(processes)!r}",
        "# HELP extdns_dnsserver_processes_up Server processes that answered this scrape.",
        "# TYPE extdns_dnsserver_processes_up gauge",
        f"extdns_dnsserver_processes_up {float(up)!r}",
    ]
    return ("\n".join(lines) + "\n").encode()


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


Route = Callable[[], "tuple[int, bytes, str] | Awaitable[tuple[int, bytes, str]]"]


class HttpOps:
    """Tiny HTTP/1.0 server for /health, /ready and /metrics on the addresses the Corefile names."""

    def __init__(self) -> None:
        self.routes: dict[str, dict[str, Route]] = {}  # addr -> path -> route
        self.servers: list[asyncio.Server] = []
        self.started = time.monotonic()

    def add(self, addr: str, path: str, route: Route) -> None:
        self.routes.setdefault(addr, {})[path] = route

    async def start(self) -> None:
        for addr, routes in self.routes.items():
            host, _, port = addr.rpartition(":")
            srv = await asyncio.start_server(self._handler(routes), host or "0.0.0.0", int(port))
            self.servers.append(srv)

    def _handler(
        self, routes: dict[str, Route]
    ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._serve(reader, writer, routes)

        return handle

    def bound(self, addr: str) -> int:
        """The port actually bound for addr (useful with port 0 in tests)."""
        i = list(self.routes).index(addr)
        return int(self.servers[i].sockets[0].getsockname()[1])

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, routes: dict[str, Route]
    ) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)).strip():
                pass
            parts = line.decode("latin-1").split()
            path = parts[1].split("?")[0] if len(parts) > 1 else "/"
            route = routes.get(path)
            got = route() if route else (404, b"404 page not found\n", "text/plain")
            status, body, ctype = await got if inspect.isawaitable(got) else got
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}.get(status, "")
            writer.write(
                f"HTTP/1.0 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                f"Connection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        for s in self.servers:
            s.close()
            await s.wait_closed()
