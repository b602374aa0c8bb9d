"""Randomized soak: no lost or resurrected records with many writers and a slow resync, on the real stack.

    .venv/bin/python -m bench.soak [--ops 2000] [--services 300] [--workers 3] [--interval 2s]
                                   [--list-delay 2] [--seed 1]

Three worker processes, the emitter, and `extdns sync` resyncing every --interval through a proxy
that holds each Service LIST for --list-delay seconds (a large cluster's LIST) all write one etcd,
while random creates, address changes, hostname changes and deletes hit up to --services Services
on the real API server. A sampler reads etcd every 0.25 s and compares every name with what the
cluster asks for at that moment. After the operations, the cluster is left quiet until etcd
matches. Printed: lost records, resurrected records, whether `extdns sync --once --dry-run` on
the final cluster plans any change, and the name-seconds during which any name answered wrong
(propagation delay included: every change is wrong until its record lands). etcd runs on tmpfs
(/dev/shm) with `--unsafe-no-fsync` (tools/testenv.py).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

from bench.pipeline import create, namespace, print_table
from extdns.skydns import key_to_name
from tests.e2e.listproxy import ListProxy, is_list
from tests.e2e.pipeline import Pipeline, make_pipeline
from tools import testenv

SAMPLE = 0.25


class Truth:
    """What the cluster asks for: hostname -> address, per Service, under a lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.services: dict[str, tuple[str, str]] = {}  # service -> (hostname, ip)

    def expected(self) -> dict[str, set[str]]:
        with self.lock:
            out: dict[str, set[str]] = defaultdict(set)
            for host, ip in self.services.values():
                out[host].add(ip)
            return dict(out)


def published(p: Pipeline) -> dict[str, set[str]]:
    """Name -> addresses in etcd now (what our DNS server or CoreDNS would answer)."""
    out: dict[str, set[str]] = defaultdict(set)
    for key, value in p.records().items():
        if "host" in value:
            name = key_to_name(key, p.prefix)
            if name is None:
                continue
            labels = name.split(".")
            out[".".join(labels[int(value.get("targetstrip", 0)) :])].add(value["host"])
    return dict(out)


def wrong_names(p: Pipeline, truth: Truth) -> set[str]:
    want, have = truth.expected(), published(p)
    return {n for n in set(want) | set(have) if want.get(n, set()) != have.get(n, set())}


def run(p: Pipeline, proxy: ListProxy, args: argparse.Namespace) -> list[tuple[str, str]]:
    rng = random.Random(args.seed)
    for i in range(args.workers):
        p.start_worker(f"worker-{i}")
    p.start_emitter()
    slow = proxy.kubeconfig(p.logdir / "slow-kubeconfig")
    argv = ("-m", "process.cli", "sync", f"--interval={args.interval}")
    p.start("resync", *argv, env={"KUBECONFIG": str(slow)})
    ns = namespace(p.core)
    truth = Truth()
    stop = threading.Event()
    wrong_seconds = [0.0]

    def sample() -> None:
        while not stop.wait(SAMPLE):
            wrong_seconds[0] += SAMPLE * len(wrong_names(p, truth))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    counts: dict[str, int] = defaultdict(int)
    started = time.monotonic()
    for serial in range(1, args.ops + 1):
        names = sorted(truth.services)
        op = rng.choice(["create"] * 2 + ["address", "hostname", "delete"]) if names else "create"
        if op == "create" and len(names) >= args.services:
            op = "address"
        if op == "create":
            svc, host, ip = (
                f"s{serial}",
                f"h{serial}.{p.domain}",
                f"10.{serial // 65536}.{serial // 256 % 256}.{serial % 256}",
            )
            create(p.core, ns, svc, host, ip)
            with truth.lock:
                truth.services[svc] = (host, ip)
        elif op == "address":
            svc = rng.choice(names)
            ip = f"10.200.{serial // 256 % 256}.{serial % 256}"
            p.core.patch_namespaced_service_status(
                svc, ns, {"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}}
            )
            with truth.lock:
                truth.services[svc] = (truth.services[svc][0], ip)
        elif op == "hostname":
            svc = rng.choice(names)
            host = f"h{serial}.{p.domain}"
            p.core.patch_namespaced_service(
                svc, ns, {"metadata": {"annotations": {"external-dns.alpha.kubernetes.io/hostname": host}}}
            )
            with truth.lock:
                truth.services[svc] = (host, truth.services[svc][1])
        else:
            svc = rng.choice(names)
            p.core.delete_namespaced_service(svc, ns)
            with truth.lock:
                del truth.services[svc]
        counts[op] += 1
    ops_took = time.monotonic() - started
    quiet_start = time.monotonic()
    deadline = quiet_start + 60
    while wrong_names(p, truth) and time.monotonic() < deadline:
        time.sleep(0.2)
    settle = time.monotonic() - quiet_start
    stop.set()
    sampler.join()
    want, have = truth.expected(), published(p)
    lost = sum(len(want[n] - have.get(n, set())) for n in want)
    resurrected = sum(len(have[n] - want.get(n, set())) for n in have)
    dry = subprocess.run(
        [sys.executable, "-m", "process.cli", "sync", "--once", "--dry-run"],
        env=p.env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    planned = sum(("Add/set key" in line or "Delete key" in line) for line in dry.stderr.splitlines())
    lost_races = {
        n: p.log(n).count("Re-planning names whose transaction lost a race")
        for n in p.procs
        if n != "emitter"
    }
    mix = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    writers = (
        f"{args.workers} workers, emitter, resync every {args.interval} behind a {args.list_delay}s LIST"
    )
    final = "yes" if planned == 0 and dry.returncode == 0 else f"no ({planned} changes)"
    wrong = f"{wrong_seconds[0]:.1f} (mean {wrong_seconds[0] / args.ops * 1000:.0f} ms per operation)"
    return [
        ("operations", f"{args.ops} in {ops_took:.1f}s ({mix})"),
        ("writers", writers),
        ("resync LISTs held", str(proxy.held)),
        ("lost records", str(lost)),
        ("resurrected records", str(resurrected)),
        ("final etcd = plan of final cluster", final),
        ("name-seconds answered wrong while running", wrong),
        ("settled after the last operation", f"{settle:.1f}s"),
        (
            "commits that lost to a newer write (re-planned)",
            ", ".join(f"{n} {c}" for n, c in sorted(lost_races.items())),
        ),
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, default=2000)
    ap.add_argument("--services", type=int, default=300)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--interval", default="2s")
    ap.add_argument("--list-delay", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    with testenv.stack() as s:
        redis_url, etcd_url, kubeconfig = s.start_redis(), s.start_etcd(), s.start_kube()
        tmp = Path(tempfile.mkdtemp(prefix="bench-soak-"))
        p = make_pipeline(redis_url, etcd_url, kubeconfig, tmp, EXTERNAL_DNS_SOURCE="service",
                          EXTERNAL_DNS_INTERVAL="1h")  # fmt: skip
        with ListProxy(kubeconfig, args.list_delay, lambda m, path: is_list(m, path, "services")) as proxy:
            try:
                rows = run(p, proxy, args)
            finally:
                p.stop()
    print(json.dumps(dict(rows)), file=sys.stderr)
    print_table("soak", f"seed {args.seed}", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
