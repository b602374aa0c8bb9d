"""QPS, latency and RSS of this server vs CoreDNS v1.14.7 (etcd plugin), with and without cache (dnsperf).

Usage: python -m bench.dns_qps [--seconds 5] [--names 1000]
       python -m bench.dns_qps --seconds 3 --names 100000   # the RSS goal: <= 150 MB with 100k records

RSS is read after each dnsperf run; "peak" is the process's high-water mark (VmHWM) so far.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pyetcd

from tools import testenv

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Perf:
    """One dnsperf run: queries per second, average latency, queries lost, replies by rcode."""

    qps: float
    latency_ms: float
    lost: int  # -1 when dnsperf did not say
    rcodes: dict[str, int]


def dnsperf(port: int, qfile: Path, seconds: int) -> Perf:
    """dnsperf -c 4 -q 200 for `seconds` against 127.0.0.1:port with the queries of qfile."""
    out = subprocess.run(
        [
            str(testenv.debian_binary("dnsperf", "dnsperf")),
            *("-s", "127.0.0.1", "-p", str(port), "-d", str(qfile)),
            *("-l", str(seconds), "-c", "4", "-q", "200", "-t", "2"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    qps = float(re.search(r"Queries per second:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = float(re.search(r"Average Latency \(s\):\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lost = re.search(r"Queries lost:\s+(\d+)", out)
    codes = re.search(r"Response codes:\s+(.*)", out)
    rcodes = {m[0]: int(m[1]) for m in re.findall(r"([A-Z]+) (\d+)", codes.group(1) if codes else "")}
    return Perf(qps, lat * 1000, int(lost.group(1)) if lost else -1, rcodes)


def load(c: pyetcd.Etcd3Client, names: int, text: str = "txt {i}") -> None:
    """n{i}/a -> an IPv4 address for every name, n{i}/t -> `text` for every tenth; 128 puts a transaction."""
    puts = []
    for i in range(names):
        puts.append((f"/skydns/org/bench/n{i}/a", {"host": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"}))
        if i % 10 == 0:
            puts.append((f"/skydns/org/bench/n{i}/t", {"text": text.format(i=i)}))
    for at in range(0, len(puts), 128):
        c.transaction([], [c.transactions.put(k, json.dumps(v)) for k, v in puts[at : at + 128]], [])


def kill_all(procs: list[subprocess.Popen[bytes]]) -> None:
    """Kill the servers a benchmark started that are still running."""
    for p in procs:
        if p.poll() is None:
            p.kill()


def rss_mb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return tuple(int(status.split(f"{k}:")[1].split()[0]) // 1024 for k in ("VmRSS", "VmHWM"))  # type: ignore[return-value]


def wait_port(port: int) -> None:
    import dns.message
    import dns.query

    for _ in range(300):
        try:
            r = dns.query.udp(
                dns.message.make_query("n0.bench.org", "A"), "127.0.0.1", port=port, timeout=0.3
            )
            if r.answer:  # not just up: the etcd snapshot is loaded
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"no DNS server on {port}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--names", type=int, default=1000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dnsbench-"))
    etcd, url = testenv.start_etcd(work, "etcd-bench")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        u = urlsplit(url)
        c = pyetcd.client(host=u.hostname, port=u.port)
        load(c, args.names)
        c.close()
        cached = work / "cached.txt"
        cached.write_text("n1.bench.org A\n" * 10)
        mixed = work / "mixed.txt"
        lines = []
        for i in range(0, args.names, 7):
            lines += [f"n{i}.bench.org A", f"n{i}.bench.org AAAA", f"n{i}.bench.org TXT", f"x{i}.bench.org A"]
        mixed.write_text("\n".join(lines) + "\n")
        rows = []
        for cache in (True, False):
            extra = "cache 30\n" if cache else ""
            conf = work / f"Corefile-{cache}"
            conf.write_text(f". {{\n etcd {{\n  endpoint {url}\n }}\n {extra}}}\n")
            for name, argv in (
                (
                    "extdns dnsserver",
                    [sys.executable, "-m", "dnsserver", "-conf", str(conf), "-dns.host", "127.0.0.1"],
                ),
                ("CoreDNS v1.14.7", [str(testenv.binary("coredns")), "-conf", str(conf)]),
            ):
                port = testenv.free_port()
                p = subprocess.Popen(
                    [*argv, "-dns.port", str(port)],
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                procs.append(p)
                wait_port(port)
                for label, qf in (("cached A" if cache else "one A", cached), ("mixed", mixed)):
                    perf = dnsperf(port, qf, args.seconds)
                    qps, lat, lost = perf.qps, perf.latency_ms, perf.lost if perf.lost >= 0 else "?"
                    rss, peak = rss_mb(p.pid)
                    rows.append((name, "on" if cache else "off", label, qps, lat, lost, rss, peak))
                p.terminate()
                p.wait(10)
        print(
            f"\n{args.names} names, {len(lines)} distinct mixed queries, "
            f"dnsperf -c 4 -q 200 for {args.seconds} s per row"
        )
        print(
            f"{'server':18} {'cache':5} {'queries':9} {'QPS':>10} {'avg ms':>8} {'lost':>6} "
            f"{'RSS MB':>7} {'peak':>5}"
        )
        for r in rows:
            print(f"{r[0]:18} {r[1]:5} {r[2]:9} {r[3]:10.0f} {r[4]:8.3f} {r[5]:>6} {r[6]:7} {r[7]:5}")
        by = {(r[0], r[1], r[2]): r[3] for r in rows}
        for cache, label in (("on", "cached A"), ("on", "mixed"), ("off", "one A"), ("off", "mixed")):
            ours = by[("extdns dnsserver", cache, label)]
            theirs = by[("CoreDNS v1.14.7", cache, label)]
            print(f"ratio cache={cache:3} {label:9}: {ours / theirs:5.2f}x CoreDNS")
    finally:
        kill_all(procs)
        etcd.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
