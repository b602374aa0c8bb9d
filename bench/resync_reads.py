"""What a resync reads from the API server: only the kinds the Services need, against every kind.

Usage: python -m bench.resync_reads [--pods 20000] [--services 1000] [--runs 3]

A real kube-apiserver v1.36.3 (its etcd in /dev/shm, as the test environment runs it) holds `--pods`
Pods and `--services` LoadBalancer Services, none headless and none NodePort. Each run times the
resync's read (`adapters.kube_cluster.read_all`: here Services and Ingresses only) and, in the same
run, what the resync read before (every kind the sources may depend on: also EndpointSlices, Pods and
Nodes). Wall time includes the API server's work; CPU is this process's (parsing and sorting).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from adapters.kube_api import RESOURCES, Kube, api_client
from adapters.kube_cluster import kinds_for, read_all
from extdns.sources import Cluster, SourceConfig
from tools import testenv

HOST = "external-dns.alpha.kubernetes.io/hostname"
SOURCES = ("service", "ingress")


def populate(kube: Kube, pods: int, services: int) -> None:
    def pod(i: int) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"p{i}", "labels": {"app": f"a{i % 50}"}},
            "spec": {"containers": [{"name": "main", "image": "registry.invalid/app:1"}]},
        }
        kube.request("POST", RESOURCES["Pod"].path("default"), body)

    def service(i: int) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": f"s{i}", "annotations": {HOST: f"s{i}.example.org"}},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 80}], "selector": {"app": f"a{i % 50}"}},
        }
        kube.request("POST", RESOURCES["Service"].path("default"), body)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(pod, range(pods)))
        list(pool.map(service, range(services)))


def every_kind(kube: Kube, cfg: SourceConfig) -> Cluster:
    """The resync's read before: every kind the sources may depend on, whatever the Services are."""
    objects = []
    for kind in kinds_for(SOURCES):
        objects += kube.list(kind, "" if kind == "Node" else cfg.namespace)[0]
    return Cluster.from_objects(objects)


def timed(read: Callable[[], Cluster]) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), time.process_time()
    cluster = read()
    return time.perf_counter() - wall, time.process_time() - cpu, len(cluster.pods)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=20_000)
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with testenv.stack() as s:
        kube = Kube(api_client(str(s.start_kube())))
        t0 = time.monotonic()
        populate(kube, args.pods, args.services)
        print(f"created {args.pods:,} Pods and {args.services:,} Services in {time.monotonic() - t0:.0f} s")
        cfg = SourceConfig()
        rows: dict[str, list[tuple[float, float, int]]] = {
            "needed kinds (now)": [],
            "every kind (before)": [],
        }
        for _ in range(args.runs):
            rows["needed kinds (now)"].append(timed(lambda: read_all(kube, SOURCES, cfg)))
            rows["every kind (before)"].append(timed(lambda: every_kind(kube, cfg)))
        print(f"\n{args.runs} runs, median (min-max)")
        print(f"{'read':22} {'wall s':>22} {'CPU s':>22} {'Pods read':>10}")
        for name, runs in rows.items():
            walls, cpus = [r[0] for r in runs], [r[1] for r in runs]
            print(
                f"{name:22} {statistics.median(walls):8.2f} ({min(walls):.2f}-{max(walls):.2f})"
                f"   {statistics.median(cpus):8.2f} ({min(cpus):.2f}-{max(cpus):.2f}) {runs[0][2]:>10,}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
