"""The resync at scale: N Services, initial and no-op resync with 1, 2 and 4 worker processes (shards).

Usage: python -m bench.resync_scale [--services 100000] [--namespaces 20] [--workers 1,2,4] [--runs 3]

A real kube-apiserver v1.36.3, etcd and Redis (tools/testenv.py: both etcds in /dev/shm with
`--unsafe-no-fsync`) hold `--services` ExternalName Services with `spec.externalIPs` (an A record and
its ownership TXT each), spread over `--namespaces` namespaces (Kubernetes' scalability limit is
5,000 Services per namespace). For each worker count W and run: one Celery worker with W prefork
processes and `EXTERNAL_DNS_RESYNC_SHARDS=W` (1: the unsharded resync), a fresh etcd prefix, then
`extdns.resync` sent three times, each timed from the send until every shard task has logged its end:

- initial: the prefix is empty, every record is written;
- no-op, first read: nothing to write; every shard reads and plans everything (a resync right after
  writes has no skip memo, and its processes have decoded no record yet);
- no-op, repeated: the same inputs again: skipped (one process: its own memo; shards: the notes every
  shard left in Redis), after the resync's LISTs made metadata-only and one etcd Range;
- one unrelated change: one Service's annotation touched first, so every shard reads and plans
  everything again, now with the processes' memos of the sources' results and the decoded records.

CPU is the worker's whole process tree over the resync (it shares the 2 cores with the API server and
etcd, whose own work is in the wall time). RSS is each worker process's high-water mark at the end.
An emitter is started once against all the Services; its RSS once its first lists are in is reported.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from adapters.kube_api import RESOURCES, Kube, api_client
from bench.peers import tree_cpu
from tests.e2e.pipeline import Pipeline, make_pipeline
from tools import testenv

HOST = "external-dns.alpha.kubernetes.io/hostname"
STEPS = ("initial", "no-op, first read", "no-op, repeated", "one unrelated change")


def populate(kube: Kube, services: int, namespaces: int, domain: str) -> None:
    for n in range(namespaces):
        kube.request("POST", "/api/v1/namespaces", {"metadata": {"name": f"scale-{n}"}})

    def service(i: int) -> None:
        ip = f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
        body = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": f"s{i}", "annotations": {HOST: f"s{i}.{domain}"}},
            "spec": {"type": "ExternalName", "externalName": "unused.invalid", "externalIPs": [ip]},
        }
        kube.request("POST", RESOURCES["Service"].path(f"scale-{i % namespaces}"), body)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(service, range(services)))


def rss_mib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return tuple(int(status.split(f"{k}:")[1].split()[0]) // 1024 for k in ("VmRSS", "VmHWM"))  # type: ignore[return-value]


def children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def finished(log: str, workers: int) -> int:
    """Resync rounds the worker logged as ended.

    Unsharded, the resync task's ends; sharded, its shard tasks' ends over the shard count, plus the
    rounds skipped on the shards' notes.
    """
    if workers == 1:
        return len(re.findall(r"extdns\.resync\[[^\]]+\] (?:succeeded|failed|raised)", log))
    shards = len(re.findall(r"extdns\.resync_shard\[[^\]]+\] (?:succeeded|failed|raised)", log))
    skip = r"extdns\.resync\[[^\]]+\] succeeded[^{]*\{'writes': 0, 'skipped': " + str(workers) + r"\}"
    skipped = len(re.findall(skip, log))
    return shards // workers + skipped


def wait(p: Pipeline, name: str, what: str, probe: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if not p.procs[name].alive():
            raise AssertionError(f"{name} exited:\n{p.log(name)[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n{p.log(name)[-3000:]}")
        time.sleep(0.05)


def run(p: Pipeline, workers: int, timeout: float) -> dict[str, tuple[float, float]]:
    """One worker with `workers` processes on a fresh prefix: (wall, CPU) per step; RSS appended."""
    prefix = f"/skydns-scale-{uuid.uuid4().hex[:6]}/"
    env = {
        "EXTERNAL_DNS_RESYNC_SHARDS": str(workers),
        "EXTERNAL_DNS_COREDNS_PREFIX": prefix,
        "EXTERNAL_DNS_INTERVAL": "1h",  # no beat runs: the bench sends each resync itself
    }
    name = f"worker-{workers}-{uuid.uuid4().hex[:4]}"
    proc = p.start_worker(name, concurrency=workers, env=env)
    wait(p, name, "the worker to start", lambda: "ready." in p.log(name), 60)
    from tasks.app import app

    out: dict[str, tuple[float, float]] = {}
    for step in STEPS:
        if step == "one unrelated change":  # no record depends on it, but every shard reads everything
            body = {"metadata": {"annotations": {"bench.example.org/touch": uuid.uuid4().hex}}}
            p.core.patch_namespaced_service("s0", "scale-0", body)
        before = finished(p.log(name), workers)
        cpu0, t0 = tree_cpu([proc.pid]), time.monotonic()
        app.send_task("extdns.resync")
        wait(p, name, step, lambda n=before + 1: finished(p.log(name), workers) >= n, timeout)
        out[step] = (time.monotonic() - t0, tree_cpu([proc.pid]) - cpu0)
    hwm = [rss_mib(c)[1] for c in children(proc.pid)]
    out["rss"] = (float(max(hwm)), float(sum(hwm)))
    failures = re.findall(r"(?:raised|failed).*", p.log(name))
    if failures or "longer than" in p.log(name):
        print(f"  note: {name}: {failures[:2]} {re.findall(r'Resync took [^,]*', p.log(name))[:4]}")
    proc.stop()
    p.procs.pop(name, None)
    p.etcd.delete_prefix(prefix)
    return out


def emitter_rss(p: Pipeline) -> tuple[int, int]:
    proc = p.start_emitter(lead=False)
    wait(p, "emitter", "the emitter's first lists", lambda: "became the leader" in p.log("emitter"), 120)
    time.sleep(5)  # its lists are in once it leads; let the watches settle
    rss = rss_mib(proc.pid)
    proc.stop()
    return rss


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=100_000)
    ap.add_argument("--namespaces", type=int, default=20)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=600.0)
    args = ap.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    testenv.interrupt_on_sigterm()
    with testenv.stack() as s:
        logdir = Path(s.workdir) / "logs"
        logdir.mkdir()
        p = make_pipeline(
            s.start_redis(), s.start_etcd(), s.start_kube(), logdir,
            EXTERNAL_DNS_SOURCE="service", EXTERNAL_DNS_LOG_LEVEL="info", CELERY_VISIBILITY_TIMEOUT="3600",
        )  # fmt: skip
        os.environ.update(p.env)  # the bench's own Celery client publishes to the same broker
        t0 = time.monotonic()
        assert s.kubeconfig is not None
        populate(Kube(api_client(str(s.kubeconfig))), args.services, args.namespaces, p.domain)
        took = time.monotonic() - t0
        print(f"created {args.services:,} Services in {args.namespaces} namespaces: {took:.0f} s", flush=True)
        results: dict[int, list[dict[str, tuple[float, float]]]] = {w: [] for w in counts}
        try:
            for r in range(args.runs):
                for w in counts:
                    results[w].append(run(p, w, args.timeout))
                    row = results[w][-1]
                    print(f"run {r + 1}, {w} worker processes: " + ", ".join(
                        f"{step} {row[step][0]:.1f} s wall / {row[step][1]:.1f} s CPU" for step in STEPS
                    ) + f"; RSS max {row['rss'][0]:.0f} MiB", flush=True)  # fmt: skip
            rss, hwm = emitter_rss(p)
        finally:
            p.stop()
    print(f"\n{args.services:,} Services, {args.namespaces} namespaces; {args.runs} runs, median (min-max)")
    print(f"{'worker processes = shards':26} {'step':20} {'wall s':>20} {'worker CPU s':>20}")
    for w in counts:
        for step in STEPS:
            walls = [x[step][0] for x in results[w]]
            cpus = [x[step][1] for x in results[w]]
            print(
                f"{w:<26} {step:20} {statistics.median(walls):8.1f} ({min(walls):.1f}-{max(walls):.1f})"
                f" {statistics.median(cpus):9.1f} ({min(cpus):.1f}-{max(cpus):.1f})"
            )
    print("\nRSS high-water mark per worker process, largest (sum over the worker's processes), MiB")
    for w in counts:
        tops = [x["rss"][0] for x in results[w]]
        sums = [x["rss"][1] for x in results[w]]
        print(f"  {w} processes: {statistics.median(tops):.0f} ({statistics.median(sums):.0f} in all)")
    print(f"emitter (leader, every Service listed and watched): RSS {rss} MiB, high-water mark {hwm} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
