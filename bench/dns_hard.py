"""The DNS server under hostile and heavy load, against CoreDNS v1.14.7 in the same run.

Usage: python -m bench.dns_hard [--names 100000] [--runs 5] [--seconds 3]

One etcd (its data dir in a temp dir on disk, `--unsafe-no-fsync` as every testenv etcd) holds
`--names` names in the layout of bench/dns_qps.py (n{i}/a an IPv4 address, every tenth also n{i}/t
a text) under `bench.org`, served from a `.` zone as deploy/Corefile does, so `bench.org` is a
domain apex with every record below it.
Servers, each with `cache 30` unless said: dnsserver with 1 process, dnsserver with N (the CPUs
usable), CoreDNS, and a trivial uvloop responder that only flips the header bit (the ceiling of a
Python process on this machine). dnsperf (-c 4 -q 200, no EDNS) runs `--runs` times per row; a row
prints the median QPS and the min-max. Then: RSS per process, and the amplification table (reply
bytes / query bytes over UDP, queries with EDNS size 4096, the largest over a set of names).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import dns.message
import dns.query
import pyetcd

from bench.dns_qps import Perf, dnsperf, kill_all, load, rss_mb
from dnsserver.processes import usable_cpus
from tools import testenv

ROOT = Path(__file__).resolve().parents[1]
QTYPES = ("A", "AAAA", "TXT", "ANY", "NS", "SOA", "SRV", "MX", "CNAME", "PTR")


def trivial(port: int) -> None:
    """A UDP responder that answers every datagram with itself, QR set: no parsing, no lookup."""
    import uvloop

    class Flip(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.t: asyncio.DatagramTransport = transport  # type: ignore[assignment]

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            self.t.sendto(data[:2] + bytes([data[2] | 0x80]) + data[3:], addr)

    async def serve() -> None:
        await asyncio.get_running_loop().create_datagram_endpoint(Flip, local_addr=("127.0.0.1", port))
        await asyncio.Event().wait()

    uvloop.run(serve())


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def answered(port: int, probe: str = "n1.bench.org", timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            r = dns.query.udp(dns.message.make_query(probe, "A"), "127.0.0.1", port=port, timeout=0.5)
            if r.answer or probe == "any.":
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"nothing answers {probe} on {port}")


def case_variants(name: str, n: int, rnd: random.Random) -> list[str]:
    return ["".join(c.upper() if rnd.random() < 0.5 else c for c in name) for _ in range(n)]


def amplification(port: int, names: list[str]) -> dict[str, tuple[float, str]]:
    """qtype -> (largest reply/query ratio over UDP, the name that gave it), queries with EDNS 4096."""
    out: dict[str, tuple[float, str]] = {}
    for qtype in QTYPES:
        best = (0.0, "")
        for name in names:
            q = dns.message.make_query(name, qtype, use_edns=0, payload=4096)
            wire_q = q.to_wire()
            try:
                r = dns.query.udp(
                    q, "127.0.0.1", port=port, timeout=3, ignore_trailing=True, raise_on_truncation=False
                )
            except Exception:
                continue
            ratio = len(r.to_wire()) / len(wire_q)
            if ratio > best[0]:
                best = (ratio, name)
        out[qtype] = best
    return out


AMP_NAMES = ["bench.org.", "*.bench.org.", "n1.bench.org.", ".", "org.", "nothere.bench.org."]


def start(
    argv: list[str], port: int, name: str, procs: list[subprocess.Popen[bytes]]
) -> tuple[subprocess.Popen[bytes], float]:
    """Start a server and wait until it answers; (process, seconds until then)."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(p)
    answered(port, "any." if name.startswith("trivial") else "n1.bench.org")
    return p, time.monotonic() - t0


def rss_of(p: subprocess.Popen[bytes]) -> str:
    """RSS of a server: of each of its processes when it has several."""
    return " + ".join(f"{rss_mb(x)[0]}" for x in children(p.pid) or [p.pid]) + " MB"


def memo_ratio(port: int) -> str:
    """How many of the server's replies came from the answer memo (its own counters)."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    hits = float(re.search(r"^extdns_dnsserver_answer_memo_hits_total (\S+)", text, re.M).group(1))  # type: ignore[union-attr]
    looked = float(re.search(r"^extdns_dnsserver_answer_memo_lookups_total (\S+)", text, re.M).group(1))  # type: ignore[union-attr]
    share = 100 * hits / max(1.0, hits + looked)
    return f"{hits:,.0f} memo hits, {looked:,.0f} lookups ({share:.1f}% from the memo)"


def stats(xs: list[float]) -> str:
    return f"{statistics.median(xs):>9,.0f} ({min(xs):,.0f}-{max(xs):,.0f})"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--names", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--trivial-port", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.trivial_port:
        trivial(args.trivial_port)
        return 0
    n_procs = usable_cpus()
    rnd = random.Random(1)
    work = Path(tempfile.mkdtemp(prefix="dnshard-"))
    t0 = time.monotonic()
    etcd, url = testenv.start_etcd(work, "etcd-dnshard")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        u = urlsplit(url)
        c = pyetcd.client(host=u.hostname, port=u.port)
        load(c, args.names, "heritage=external-dns,external-dns/owner=default {i}")
        c.close()
        print(
            f"loaded {args.names:,} names ({args.names + args.names // 10:,} keys)"
            f" in {time.monotonic() - t0:.0f} s",
            flush=True,
        )
        files = {
            "cached A": ["n1.bench.org A"] * 10,
            "apex TXT, 0x20": [f"{v} TXT" for v in case_variants("bench.org", 20_000, rnd)],
            "apex A, 0x20": [f"{v} A" for v in case_variants("bench.org", 20_000, rnd)],
            "wildcard A": [f"{v} A" for v in case_variants("*.bench.org", 20_000, rnd)],
            "distinct A": [f"n{i}.bench.org A" for i in rnd.sample(range(args.names), args.names)],
        }
        qfiles = {}
        for label, lines in files.items():
            qfiles[label] = work / (re.sub(r"\W+", "-", label) + ".txt")
            qfiles[label].write_text("\n".join(lines) + "\n")
        conf = work / "Corefile"
        conf.write_text(f". {{\n etcd {{\n  endpoint {url}\n }}\n cache 30\n prometheus 127.0.0.1:0\n}}\n")
        nocache = work / "Corefile-nocache"
        memo_port = testenv.free_port()  # to read how often the answer memo helped
        nocache.write_text(f". {{\n etcd {{\n  endpoint {url}\n }}\n prometheus 127.0.0.1:{memo_port}\n}}\n")
        ours = [sys.executable, "-m", "dnsserver", "-dns.host", "127.0.0.1"]
        servers: list[tuple[str, Callable[[int], list[str]], list[str]]] = [
            (
                "trivial uvloop responder",
                lambda p: [sys.executable, "-m", "bench.dns_hard", "--trivial-port", str(p)],
                ["cached A"],
            ),
            (
                "dnsserver, 1 process",
                lambda p: [*ours, "-conf", str(conf), "-processes", "1", "-dns.port", str(p)],
                list(files),
            ),
            (
                f"dnsserver, {n_procs} processes",
                lambda p: [*ours, "-conf", str(conf), "-processes", str(n_procs), "-dns.port", str(p)],
                list(files),
            ),
            (
                "CoreDNS v1.14.7",
                lambda p: [str(testenv.binary("coredns")), "-conf", str(conf), "-dns.port", str(p)],
                list(files),
            ),
            (
                "dnsserver no cache, 1 process",
                lambda p: [*ours, "-conf", str(nocache), "-processes", "1", "-dns.port", str(p)],
                ["distinct A"],
            ),
        ]
        rows: list[tuple[str, str, list[float], int, str]] = []
        memo_note = ""
        rss: list[tuple[str, str]] = []
        amp: dict[str, dict[str, tuple[float, str]]] = {}
        for name, argv, labels in servers:
            port = testenv.free_port()
            p, ready_s = start(argv(port), port, name, procs)
            sizes = ""
            for label in labels:
                if label == "distinct A":
                    # Each run on a fresh process: nothing asked before is in its memo or cache.
                    sizes = rss_of(p) + " after the rows above; "
                    if not name.startswith("dnsserver no cache"):
                        amp[name] = amplification(port, AMP_NAMES)
                    runs: list[Perf] = []
                    for _ in range(args.runs):
                        p.terminate()
                        p.wait(15)
                        p, _ = start(argv(port), port, name, procs)
                        runs.append(dnsperf(port, qfiles[label], args.seconds))
                        if "no cache" in name:
                            memo_note = memo_ratio(memo_port)
                    sizes += rss_of(p) + " after one run of distinct lookups"
                else:
                    runs = [dnsperf(port, qfiles[label], args.seconds) for _ in range(args.runs)]
                codes: dict[str, int] = {}
                for run in runs:
                    for code, count in run.rcodes.items():
                        codes[code] = codes.get(code, 0) + count
                total = sum(codes.values()) or 1
                shares = " ".join(
                    f"{c} {100 * v / total:.0f}%" for c, v in sorted(codes.items(), key=lambda x: -x[1])
                )
                rows.append((name, label, [r.qps for r in runs], sum(r.lost for r in runs), shares))
                print(f"{name:32} {label:16} {stats(rows[-1][2])}", flush=True)
            rss.append((name, (sizes or rss_of(p)) + f" (up and answering in {ready_s:.1f} s)"))
            p.terminate()
            p.wait(15)
        print(
            f"\n{args.names:,} names; dnsperf -c 4 -q 200 for {args.seconds} s, {args.runs} runs per row:"
            " QPS median (min-max)"
        )
        print(f"{'server':32} {'queries':16} {'QPS':>9} (min-max)          lost  replies")
        for name, label, qps, lost, shares in rows:
            print(f"{name:32} {label:16} {stats(qps):32} {lost:5}  {shares}")
        med = {(n, lab): statistics.median(q) for n, lab, q, _, _ in rows}
        core = "CoreDNS v1.14.7"
        print()
        for label in files:
            for ours_name in ("dnsserver, 1 process", f"dnsserver, {n_procs} processes"):
                if (core, label) in med and (ours_name, label) in med:
                    print(
                        f"{label:16} {ours_name:24}: "
                        f"{med[(ours_name, label)] / med[(core, label)]:5.2f}x CoreDNS"
                    )
        triv = med[("trivial uvloop responder", "cached A")]
        one = med[("dnsserver, 1 process", "cached A")]
        print(f"cached A, 1 process: {one / triv:5.2f}x the trivial responder ({triv:,.0f} QPS)")
        print(
            "apex TXT 0x20 vs cached A, 1 process: costs "
            f"{one / med[('dnsserver, 1 process', 'apex TXT, 0x20')]:.2f}x a cached query"
        )
        print(f"distinct A without cache: {memo_note}")
        print("\nRSS per process after the runs")
        for name, text in rss:
            print(f"  {name:32} {text}")
        print("\nAmplification over UDP (reply bytes / query bytes), largest over the names tried, EDNS 4096")
        names = list(amp)
        print(f"{'type':6} " + " ".join(f"{n:>30}" for n in names))
        for qtype in QTYPES:
            print(
                f"{qtype:6} " + " ".join(f"{amp[n][qtype][0]:>10.1f}x {amp[n][qtype][1]:>18}" for n in names)
            )
    finally:
        kill_all(procs)
        etcd.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
