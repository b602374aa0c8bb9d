"""Side by side with the real peers, in one run: this project vs ExternalDNS v0.22.0 + CoreDNS v1.14.7.

Usage: .venv/bin/python -m bench.peers [--latency-events 100] [--latency-events-theirs 20]
                                        [--burst 1000,5000] [--noop 1000,10000] [--dns-seconds 3]
                                        [--steady 10000] [--steady-loops 6] [--steady-interval 3]

Everything runs on one machine against one kube-apiserver, Redis and etcd started by tools.testenv;
each measurement gets its own namespace (both controllers run with `--namespace`), domain and etcd
prefix, and the two systems are measured one after the other, never at the same time. Prints a table
and writes it, with the date, the machine and the versions, to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dns.exception
from kubernetes import client, config

import extdns
from bench import peers_procs as pp
from tests.e2e.pipeline import Pipeline, make_pipeline
from tools import testenv

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "benchmarks.md"
SOAK_SECTION = "## No lost updates: bench/soak.py"


@dataclass
class Row:
    """One line of the table: a metric for both systems; ratio is ours / theirs."""

    metric: str
    ours: float
    theirs: float
    unit: str
    better: str = "lower"  # which direction is better
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.ours / self.theirs if self.theirs else float("inf")


def fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


# ---------------------------------------------------------------- the cluster side


class Cluster:
    """Creates and patches Services fast: a client per thread, responses not deserialized."""

    def __init__(self, kubeconfig: Path, threads: int = 8) -> None:
        self.kubeconfig = kubeconfig
        self.local = threading.local()
        self.pool = ThreadPoolExecutor(threads)
        self.core = self._core()

    def _core(self) -> client.CoreV1Api:
        if not hasattr(self.local, "core"):
            self.local.core = client.CoreV1Api(
                config.new_client_from_config(config_file=str(self.kubeconfig))
            )
        return self.local.core  # type: ignore[no-any-return]

    def namespace(self, what: str) -> str:
        ns = f"bench-{what}-{uuid.uuid4().hex[:6]}"
        self.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
        return ns

    def _create(self, ns: str, name: str, host: str, ip: str) -> None:
        """A LoadBalancer Service without an address, or (with ip) one whose target is set at create.

        The latter is an ExternalName Service with `spec.externalIPs`, which both controllers publish as
        an A record: no cluster IP or node port to allocate, where LoadBalancer creates slowed to ~15/s
        on this API server beyond ~15k Services.
        """
        spec: dict[str, Any] = {"type": "LoadBalancer", "ports": [{"port": 80}]}
        if ip:
            spec = {"type": "ExternalName", "externalName": "unused.invalid", "externalIPs": [ip]}
        body = {"metadata": {"name": name, "annotations": {pp.HOSTNAME: host}}, "spec": spec}
        self._core().create_namespaced_service(ns, body, _preload_content=False)  # type: ignore[arg-type]

    def create(self, ns: str, services: list[tuple[str, str, str]]) -> None:
        """Create (name, hostname, external IP or "") Services, in parallel."""
        list(self.pool.map(lambda s: self._create(ns, *s), services))

    def set_lb(self, ns: str, name: str, ip: str) -> None:
        body = {"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}}
        self._core().patch_namespaced_service_status(name, ns, body, _preload_content=False)


def tree_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) used so far by these processes and all their descendants."""
    stats: dict[int, tuple[int, float]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
                stats[int(d.name)] = (
                    int(fields[1]),
                    (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"),
                )
    total, todo, seen = 0.0, list(pids), set()
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in stats:
            continue
        seen.add(pid)
        total += stats[pid][1]
        todo += [child for child, (ppid, _) in stats.items() if ppid == pid]
    return total


def ip_of(block: int, i: int) -> str:
    return f"10.{block}.{i // 256 % 256}.{i % 256}"


def resolves(port: int, name: str, ip: str) -> bool:
    try:
        return pp.values(port, name, "A", timeout=1.0) == [ip]
    except dns.exception.DNSException:
        return False


def wait_all(
    port: int, wanted: list[tuple[str, str]], timeout: float, alive: Callable[[], None], poll: float = 0.02
) -> float:
    """Monotonic time at which every (name, ip) has been seen answering; names are checked in order.

    A miss waits `poll` (50/s by default: CoreDNS reads etcd on every query, keep that load small).
    """
    deadline = time.monotonic() + timeout
    i = 0
    while i < len(wanted):
        if resolves(port, *wanted[i]):
            i += 1
            continue
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(wanted) - i} of {len(wanted)} names still unresolved ({wanted[i]})")
        alive()
        time.sleep(poll)
    return time.monotonic()


# ---------------------------------------------------------------- the two systems


class Ours:
    """Emitter + worker(s) (tests/e2e/pipeline.py) + our DNS server, scoped to one namespace."""

    name = "ours"

    def __init__(self, b: Bench, what: str, ns: str, workers: int) -> None:
        self.logdir = b.work / f"ours-{what}"
        self.logdir.mkdir(parents=True)
        s = b.stack
        assert s.kubeconfig is not None
        self.p: Pipeline = make_pipeline(
            s.redis_url, s.etcd_url, s.kubeconfig, self.logdir, EXTERNAL_DNS_NAMESPACE=ns
        )
        self.domain = self.p.domain
        self.workers = workers
        self.b, self.ns = b, ns
        self.dns: pp.DnsServer | None = None

    def start(self) -> None:
        p = self.p
        p.start_worker(concurrency=self.workers)
        p.start_emitter(lead=False)
        self.dns = pp.start_dnsserver(self.logdir, p.prefix, p.env["ETCD_URLS"], zone=self.domain)
        p.wait("the worker", lambda: "ready." in p.log("worker"), 60)
        p.wait("the emitter to lead", lambda: "became the leader" in p.log("emitter"), 60)
        self._watching()

    def _watching(self) -> None:
        """Wait for a live watch: what exists at the emitter's first list is left to the resync (none)."""
        for k in range(60):
            host, ip = f"probe{k}.{self.domain}", ip_of(250, k)
            self.b.cluster.create(self.ns, [(f"probe{k}", host, ip)])
            with contextlib.suppress(TimeoutError):
                wait_all(self.port, [(host, ip)], 1.0, self.alive)
                return
        raise RuntimeError(f"the emitter published nothing in 60 s (logs: {self.logdir})")

    def settle(self) -> None:
        time.sleep(2.0)  # the initial list is not published; let create events drain

    def alive(self) -> None:
        for name, proc in self.p.procs.items():
            if not proc.alive():
                raise RuntimeError(f"{name} exited:\n{self.p.log(name)[-3000:]}")

    @property
    def port(self) -> int:
        assert self.dns is not None
        return self.dns.port

    def controller_pids(self) -> list[int]:
        return [proc.pid for proc in self.p.procs.values()]

    def stop(self) -> None:
        self.p.stop()
        if self.dns:
            self.dns.stop()


class Theirs:
    """ExternalDNS (`--events --interval 15s`, default --min-event-sync-interval) + CoreDNS."""

    name = "theirs"

    def __init__(self, b: Bench, what: str, ns: str) -> None:
        self.logdir = b.work / f"theirs-{what}"
        self.logdir.mkdir(parents=True)
        tag = uuid.uuid4().hex[:8]
        self.domain, self.prefix, self.ns = f"{tag}.example.org", f"/peer-{tag}", ns
        self.b = b
        self.proc: testenv.Proc | None = None
        self.dns: pp.DnsServer | None = None

    def start(self) -> None:
        s = self.b.stack
        assert s.kubeconfig is not None
        argv = pp.external_dns_argv(
            s.kubeconfig,
            "bench",
            self.prefix,
            self.domain,
            "--events",
            "--interval=15s",
            f"--namespace={self.ns}",
        )
        log = self.logdir / "external-dns.log"
        self.proc = testenv.Proc("external-dns", argv, log, env=pp.controller_env(s.etcd_url)).start()
        self.dns = pp.start_coredns(self.logdir, self.prefix, s.etcd_url, zone=self.domain)
        testenv.wait_until(
            "external-dns's first run", self.proc, lambda: 'msg="All records' in log.read_text(), 60
        )

    def settle(self) -> None:
        time.sleep(1.0)

    def alive(self) -> None:
        assert self.proc is not None
        self.proc.check_alive()

    @property
    def port(self) -> int:
        assert self.dns is not None
        return self.dns.port

    def controller_pids(self) -> list[int]:
        return [self.proc.pid] if self.proc else []

    def stop(self) -> None:
        if self.proc:
            self.proc.stop()
        if self.dns:
            self.dns.stop()


System = Ours | Theirs


@contextlib.contextmanager
def running(system: System) -> Iterator[System]:
    try:
        system.start()
        yield system
    finally:
        system.stop()


# ---------------------------------------------------------------- the measurements


@dataclass
class Bench:
    args: argparse.Namespace
    stack: testenv.Stack
    work: Path
    cluster: Cluster

    def say(self, msg: str) -> None:
        print(f"[bench.peers {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    def system(self, which: str, what: str, ns: str, workers: int = 1) -> System:
        return Ours(self, what, ns, workers) if which == "ours" else Theirs(self, what, ns)

    def latency(self, which: str, events: int) -> list[float]:
        """PATCH a Service's LoadBalancer status, poll the DNS server until it answers the IP; repeat."""
        ns = self.cluster.namespace(f"lat-{which}")
        block = 1 if which == "ours" else 2
        with running(self.system(which, "latency", ns)) as sys_:
            names = [(f"l{i}", f"l{i}.{sys_.domain}") for i in range(events)]
            self.cluster.create(ns, [(n, h, "") for n, h in names])
            sys_.settle()
            out = []
            for i, (name, host) in enumerate(names):
                time.sleep(
                    random.uniform(0.0, 1.0) if which == "theirs" else 0.02
                )  # off ExternalDNS's 1 s tick
                ip = ip_of(block, i)
                start = time.monotonic()
                self.cluster.set_lb(ns, name, ip)
                done = wait_all(sys_.port, [(host, ip)], 120, sys_.alive, poll=0.002)
                out.append(done - start)
            self.say(f"latency {which}: {len(out)} events, p50 {statistics.median(out) * 1000:.0f} ms")
            return out

    def burst(self, which: str, size: int) -> tuple[float, float, float, float]:
        """Create `size` Services at once; (all resolvable, creating, after that, controller CPU) seconds.

        Controller CPU: emitter + workers, or ExternalDNS, over the whole burst.
        """
        ns = self.cluster.namespace(f"burst{size}-{which}")
        block = 10 + (size // 1000) * 2 + (which == "theirs")
        with running(self.system(which, f"burst{size}", ns, self.args.workers)) as sys_:
            wanted = [(f"b{i}.{sys_.domain}", ip_of(block, i)) for i in range(size)]
            cpu = tree_cpu(sys_.controller_pids())
            start = time.monotonic()
            self.cluster.create(ns, [(f"b{i}", host, ip) for i, (host, ip) in enumerate(wanted)])
            created = time.monotonic()
            done = wait_all(sys_.port, wanted, self.args.burst_timeout, sys_.alive)
            cpu = tree_cpu(sys_.controller_pids()) - cpu
        self.say(f"burst {size} {which}: {done - start:.1f} s (created in {created - start:.1f} s)")
        return done - start, created - start, done - created, cpu

    def noop(self, sizes: list[int]) -> list[Row]:
        """Initial and no-op `--once` runs of both controllers over the same N Services."""
        s = self.stack
        assert s.kubeconfig is not None
        ns = self.cluster.namespace("noop")
        tag = uuid.uuid4().hex[:8]
        domain = f"{tag}.example.org"
        rows: list[Row] = []
        have = 0
        for size in sorted(sizes):
            self.cluster.create(
                ns, [(f"n{i}", f"n{i}.{domain}", ip_of(40 + i // 65536, i)) for i in range(have, size)]
            )
            have = size
            runs: dict[str, list[tuple[pp.Run, dict[str, int]]]] = {}
            for which, once in (("ours", pp.extdns_once), ("theirs", pp.external_dns_once)):
                runs[which] = []
                for attempt in ("initial", "no-op"):
                    before = pp.etcd_requests(s.etcd_url)
                    log = self.work / f"noop-{size}-{which}-{attempt}.log"
                    r = once(
                        s.etcd_url,
                        log,
                        s.kubeconfig,
                        "bench",
                        f"/{which}-{tag}-{size}",
                        domain,
                        f"--namespace={ns}",
                    )
                    runs[which].append((r, pp.delta(before, pp.etcd_requests(s.etcd_url))))
                    took = f"{r.wall:.1f} s wall, {r.cpu:.2f} s CPU, {len(r.writes)} keys written"
                    self.say(f"{attempt} sync {size} {which}: {took}")
            if size in self.args.steady_sizes:
                rows += self.steady(ns, domain, size)
            (oi, oie), (on, one) = runs["ours"]
            (ti, tie), (tn, tne) = runs["theirs"]
            k = f"{size // 1000}k" if size >= 1000 else str(size)
            rows += [
                Row(f"initial sync {k} Services: wall", oi.wall, ti.wall, "s"),
                Row(f"initial sync {k} Services: CPU", oi.cpu, ti.cpu, "s"),
                Row(f"initial sync {k} Services: keys written", len(oi.writes), len(ti.writes), "keys"),
                Row(
                    f"initial sync {k} Services: etcd write requests", oie["revision"], tie["revision"], "req"
                ),
                Row(f"no-op resync {k} Services: wall", on.wall, tn.wall, "s"),
                Row(f"no-op resync {k} Services: CPU", on.cpu, tn.cpu, "s"),
                Row(f"no-op resync {k} Services: keys written", len(on.writes), len(tn.writes), "keys"),
                Row(
                    f"no-op resync {k} Services: etcd KV requests",
                    sum(one[m] for m in ("range", "txn", "put", "delete")),
                    sum(tne[m] for m in ("range", "txn", "put", "delete")),
                    "req",
                    note=f"ours {_kv(one)}; theirs {_kv(tne)}",
                ),
            ]
        return rows

    def steady(self, ns: str, domain: str, size: int) -> list[Row]:
        """Running controllers over N published Services: CPU per no-op loop, median over the loops.

        Ours: a worker (concurrency 1) and beat at `--interval`; theirs: `external-dns --interval`,
        informers warm. Each loop's CPU is the controller's CPU between two "All records are already
        up to date" lines (idle time between loops included, as it is for ExternalDNS).
        """
        s = self.stack
        assert s.kubeconfig is not None
        loops, interval = self.args.steady_loops, f"{self.args.steady_interval}s"
        tag = uuid.uuid4().hex[:8]
        logdir = self.work / f"steady-{size}"
        logdir.mkdir()
        p = make_pipeline(
            s.redis_url, s.etcd_url, s.kubeconfig, logdir, EXTERNAL_DNS_NAMESPACE=ns,
            EXTERNAL_DNS_DOMAIN_FILTER=domain, EXTERNAL_DNS_INTERVAL=interval,
        )  # fmt: skip
        try:
            p.start_worker(concurrency=1)
            p.start_beat()
            worker_log = lambda: p.log("worker")  # noqa: E731
            worker_cpu = lambda: tree_cpu([p.procs["worker"].pid])  # noqa: E731
            marker = "All records are already up to date"
            ours = self._per_loop(worker_log, marker, worker_cpu, loops)
            touches = iter(range(10**6))

            def touch() -> None:  # a change no record depends on: the next resync reads everything
                body = {"metadata": {"annotations": {"bench.example.org/touch": str(next(touches))}}}
                self.cluster.core.patch_namespaced_service("n0", ns, body)

            changed = self._per_loop(worker_log, marker, worker_cpu, loops, between=touch)
        finally:
            p.stop()
        log = logdir / "external-dns.log"
        argv = pp.external_dns_argv(
            s.kubeconfig, "bench", f"/steady-{tag}", domain, f"--interval={interval}", f"--namespace={ns}"
        )
        proc = testenv.Proc("external-dns", argv, log, env=pp.controller_env(s.etcd_url)).start()
        try:
            theirs = self._per_loop(
                lambda: log.read_text(errors="replace"), 'msg="All records are already up to date"',
                lambda: tree_cpu([proc.pid]), loops,
            )  # fmt: skip
        finally:
            proc.stop()
        k = f"{size // 1000}k" if size >= 1000 else str(size)
        self.say(f"steady {size}: ours {ours}, after a change {changed}, theirs {theirs}")
        return [
            Row(
                f"running, no-op loop over {k} Services: CPU per loop",
                statistics.median(ours), statistics.median(theirs), "s",
                note=f"median of {loops} loops at --interval {interval}; ours {_spread(ours)}, "
                f"theirs {_spread(theirs)}; ours checks versions and skips (nothing changed)",
            ),
            Row(
                f"running, loop over {k} Services after an unrelated change: CPU per loop",
                statistics.median(changed), statistics.median(theirs), "s",
                note=f"median of {loops} loops; ours {_spread(changed)}: one Service's annotation touched "
                "before each loop, so ours reads and plans everything (no writes); theirs as above",
            ),
        ]  # fmt: skip

    def _per_loop(
        self, text: Callable[[], str], marker: str, cpu: Callable[[], float], loops: int,
        between: Callable[[], None] = lambda: None,
    ) -> list[float]:  # fmt: skip
        """CPU used between consecutive markers in a log, for `loops` loops after the next marker.

        `between` runs right after each marker (before the next loop starts).
        """
        samples: list[float] = []
        seen = text().count(marker)
        deadline = time.monotonic() + 300 + loops * 60
        while len(samples) <= loops:
            count = text().count(marker)
            if count > seen:
                if count > seen + 1 and samples:
                    raise RuntimeError(f"missed a loop boundary ({count - seen} markers at once)")
                samples.append(cpu())
                seen = count
                between()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(samples)} of {loops + 1} loops seen ({marker!r})")
            time.sleep(0.05)
        return [round(b - a, 3) for a, b in itertools.pairwise(samples)]

    def dns_qps(self) -> tuple[list[Row], str]:
        """bench/dns_qps.py as it is (its own etcd, dnsperf); its rows become ratio rows here."""
        argv = [sys.executable, "-m", "bench.dns_qps", "--seconds", str(self.args.dns_seconds)]
        argv += ["--names", str(self.args.dns_names)]
        out = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True).stdout
        found: dict[tuple[str, str, str], tuple[float, float, int]] = {}
        row = re.compile(
            r"^(extdns dnsserver|CoreDNS v[\d.]+)\s+(on|off)\s+(cached A|one A|mixed)"
            r"\s+([\d.]+)\s+([\d.]+)\s+\S+\s+(\d+)"
        )
        for line in out.splitlines():
            m = row.match(line)
            if m:
                who = "ours" if m.group(1).startswith("extdns") else "theirs"
                found[(who, m.group(2), m.group(3))] = (float(m.group(4)), float(m.group(5)), int(m.group(6)))
        rows = []
        for cache, label in (("on", "cached A"), ("on", "mixed"), ("off", "one A"), ("off", "mixed")):
            if ("ours", cache, label) in found and ("theirs", cache, label) in found:
                o, t = found[("ours", cache, label)], found[("theirs", cache, label)]
                name = f"DNS QPS, cache {cache}, {label} queries"
                rows.append(Row(name, o[0], t[0], "qps", better="higher"))
                rows.append(Row(f"DNS avg latency, cache {cache}, {label}", o[1], t[1], "ms"))
                rows.append(Row(f"DNS server RSS after, cache {cache}, {label}", o[2], t[2], "MB"))
        return rows, out


def _spread(values: list[float]) -> str:
    return f"{min(values):.3g}-{max(values):.3g}"


def _kv(d: dict[str, int]) -> str:
    return ", ".join(f"{k} {d[k]}" for k in ("range", "txn", "put", "delete") if d[k])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


# ---------------------------------------------------------------- report


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError, IndexError, ValueError):
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    load = ", load average at start {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    return f"{os.cpu_count()} cores ({cpu}){mem}, {platform.system()} {platform.release()}{load}"


def table(rows: list[Row]) -> list[str]:
    lines = [
        "| metric | ours | ExternalDNS + CoreDNS | unit | ours/theirs | better | note |",
        "|---|---:|---:|---|---:|---|---|",
    ]
    for r in rows:
        ratio = "n/a" if not r.theirs else f"{r.ratio:.2f}x"
        lines.append(
            f"| {r.metric} | {fmt(r.ours)} | {fmt(r.theirs)} | {r.unit} | {ratio} | {r.better} | {r.note} |"
        )
    return lines


def write_report(
    args: argparse.Namespace, rows: list[Row], started: datetime, wall: float, dns_out: str
) -> str:
    versions = (
        f"extdns {extdns.__version__} (Python {platform.python_version()}), "
        f"ExternalDNS {testenv.EXTERNAL_DNS_VERSION}, CoreDNS {testenv.COREDNS_VERSION}, "
        f"etcd {testenv.ETCD_VERSION}, kube-apiserver {testenv.KUBERNETES_VERSION}"
    )
    command = ".venv/bin/python -m bench.peers " + " ".join(sys.argv[1:])
    text = [
        "# Benchmarks: this project vs ExternalDNS + CoreDNS",
        "",
        "Generated by `bench/peers.py`; do not edit by hand, re-run it.",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC (run took {wall / 60:.1f} min)",
        f"- Machine: {machine()}",
        f"- Versions: {versions}",
        f"- Command: `{command.strip()}`",
        "- Each row is one run, not a median of several (a running-loop row: the median of its loops).",
        "",
        *table(rows),
        "",
        "## How each row is measured",
        "",
        "All on one machine, one kube-apiserver, one Redis and one etcd (tools/testenv.py), the two",
        "systems one after the other, each in its own namespace (both controllers run with",
        "`--namespace`), domain and etcd prefix. Ratios are ours / theirs: below 1 is better for times,",
        "CPU and requests, above 1 for QPS.",
        "",
        f"- **Event → DNS answer** ({args.latency_events} events for ours, "
        f"{args.latency_events_theirs} for ExternalDNS):",
        "  LoadBalancer Services exist without an address; one at a time, its status",
        "  is PATCHed with an IP and the DNS server is polled until it answers that IP, timed from",
        "  before the PATCH. Ours: `extdns emitter` + one Celery worker (concurrency 1) +",
        "  `python -m dnsserver`. Theirs: `external-dns --events --interval 15s` (default",
        "  `--min-event-sync-interval` 5s) + CoreDNS (etcd plugin, no cache). ExternalDNS runs a sync",
        "  at the earliest 5 s after an event, by design.",
        "- **Burst**: N ExternalName Services with `spec.externalIPs` (an A record each, in both",
        "  controllers; no cluster IP to allocate) created at once by 8 client threads; the time",
        "  from the first create until every name has answered its IP, and the part of it after the",
        f"  last create. Ours with one worker process at concurrency {args.workers}. Controller CPU:",
        "  emitter + worker processes (with their pool children), or the ExternalDNS process, from",
        "  /proc over the burst; they share the 2 cores with the API server that creates the objects.",
        "- **Initial / no-op sync**: `extdns sync --once` vs `external-dns --once` on the same N",
        "  Services (as for the burst), each into its own prefix: a first run (all writes), then a",
        "  second run with nothing to do. CPU is the process's user+system time (wait4 rusage),",
        "  start-up included (Python imports; ExternalDNS's informer sync). Keys written are the",
        "  `Add/set key` /",
        "  `Delete key` log lines; write requests are etcd's revision delta (one per Put, DeleteRange",
        "  or Txn with writes); KV requests are deltas of etcd's `grpc_server_handled_total` for",
        "  Range/Txn/Put/DeleteRange.",
        "- **Running, no-op loop**: the same N Services, already published, with both controllers",
        "  running: our Celery worker (concurrency 1) with beat at `--interval`, against",
        "  `external-dns --interval` (informers warm, no `--events`). CPU of one loop is the worker's",
        "  (with its pool child) or ExternalDNS's CPU from /proc between two consecutive \"All records",
        '  are already up to date" log lines; the row is the median over the loops, min-max in the note.',
        "- **DNS**: `bench/dns_qps.py` unchanged (dnsperf, its own etcd, both servers over the same",
        "  records, with and without `cache 30`); its full output is below.",
        "",
        "Other work on this machine during the run adds noise; the load average at start is given above.",
        "",
        "## bench/dns_qps.py output",
        "",
        "```",
        dns_out.strip() or "(skipped: --dns-seconds 0)",
        "```",
        "",
    ]
    return "\n".join(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__.splitlines()[0])
    ap.add_argument("--latency-events", type=int, default=100, help="events measured for ours")
    ap.add_argument("--latency-events-theirs", type=int, default=20, help="for ExternalDNS (~6 s each)")
    ap.add_argument("--burst", default="1000,5000", help="comma-separated burst sizes ('' to skip)")
    ap.add_argument("--burst-timeout", type=float, default=600.0)
    ap.add_argument("--workers", type=int, default=2, help="worker concurrency for the bursts")
    ap.add_argument(
        "--noop", default="1000,10000", help="comma-separated sizes for the sync runs ('' to skip)"
    )
    ap.add_argument(
        "--steady", default="10000", help="sizes (of --noop) also measured as running controllers"
    )
    ap.add_argument("--steady-loops", type=int, default=6, help="loops measured per running controller")
    ap.add_argument("--steady-interval", type=int, default=3, help="--interval of both, seconds")
    ap.add_argument("--dns-seconds", type=int, default=3, help="seconds per dnsperf row (0 skips DNS)")
    ap.add_argument("--dns-names", type=int, default=1000)
    ap.add_argument("--output", type=Path, default=OUT)
    args = ap.parse_args(argv)
    args.steady_sizes = {int(x) for x in args.steady.split(",") if x}
    started, t0 = datetime.now(UTC), time.monotonic()
    rows: list[Row] = []
    dns_out = ""
    with testenv.stack() as stack:
        stack.start_redis()
        stack.start_etcd()
        kubeconfig = stack.start_kube()
        b = Bench(args, stack, stack.workdir / "bench", Cluster(kubeconfig))
        b.work.mkdir()
        if args.latency_events and args.latency_events_theirs:
            ours = b.latency("ours", args.latency_events)
            theirs = b.latency("theirs", args.latency_events_theirs)
            for q in (50, 99):
                o, t = percentile(ours, q) * 1000, percentile(theirs, q) * 1000
                rows.append(Row(f"event → DNS answer p{q}", o, t, "ms"))
        for size in [int(x) for x in args.burst.split(",") if x]:
            ours_b, theirs_b = b.burst("ours", size), b.burst("theirs", size)
            k = f"{size // 1000}k" if size >= 1000 else str(size)
            rows.append(Row(f"burst {k} Services → all resolvable", ours_b[0], theirs_b[0], "s"))
            rows.append(Row(f"burst {k}: creating them (API server)", ours_b[1], theirs_b[1], "s"))
            rows.append(Row(f"burst {k}: after the last create", ours_b[2], theirs_b[2], "s"))
            rows.append(Row(f"burst {k}: controller CPU meanwhile", ours_b[3], theirs_b[3], "s"))
        sizes = [int(x) for x in args.noop.split(",") if x]
        if sizes:
            rows += b.noop(sizes)
        b.cluster.pool.shutdown()
    if args.dns_seconds:
        dns_rows, dns_out = b.dns_qps()
        rows += dns_rows
    report = write_report(args, rows, started, time.monotonic() - t0, dns_out)
    old = args.output.read_text() if args.output.exists() else ""
    if SOAK_SECTION in old:  # written by bench.soak runs, kept across regenerations
        report += "\n" + old[old.index(SOAK_SECTION) :]
    args.output.write_text(report)
    print("\n".join(table(rows)))
    print(f"\nwritten to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
