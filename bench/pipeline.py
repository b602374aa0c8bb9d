"""Pipeline benchmarks on the real API server, Redis and etcd: event latency, burst throughput, no-op resync.

    .venv/bin/python -m bench.pipeline [--latency 200] [--burst 5000] [--workers 1 2] [--noop 10000]
                                       [--httproute 100] [--rounds 3]

Prints a table. Latency: a Service gets its LoadBalancer IP through the status subresource; we time
from the PATCH to the record in etcd and to the answer from our DNS server (emitter + one worker).
Burst: N Services with addresses are created while no worker runs (the emitter queues them), then W
workers start; we time until every record is in etcd. No-op resync: `extdns sync --once` over N
Services whose records are already right: wall, CPU, and etcd writes (revision delta). HTTPRoute:
N routes attached to one Gateway (the Gateway API CRDs of tests/crds installed); we time from the
PATCH that changes a route's hostname to the answer for the new name, in several rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubernetes import client

from adapters.kube_api import Kube, api_client
from adapters.redis_claims import PENDING
from tests.e2e.crds import ensure_crds
from tests.e2e.pipeline import Pipeline, make_pipeline
from tools import testenv

HOSTNAME = "external-dns.alpha.kubernetes.io/hostname"


def namespace(core: client.CoreV1Api) -> str:
    ns = f"bench-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    return ns


def create(core: client.CoreV1Api, ns: str, name: str, host: str, ip: str | None) -> None:
    core.create_namespaced_service(
        ns,
        client.V1Service(
            metadata=client.V1ObjectMeta(name=name, annotations={HOSTNAME: host}),
            # No NodePorts: their range holds 2,768, and bursts are larger.
            spec=client.V1ServiceSpec(
                type="LoadBalancer",
                ports=[client.V1ServicePort(port=80)],
                allocate_load_balancer_node_ports=False,
            ),
        ),
    )
    if ip:
        core.patch_namespaced_service_status(
            name, ns, {"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}}
        )


def ip_of(i: int) -> str:
    return f"10.{100 + i // 65536}.{i // 256 % 256}.{i % 256}"


def create_many(p: Pipeline, ns: str, n: int, start: int = 0) -> float:
    t0 = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda i: create(p.core, ns, f"s{i}", f"s{i}.{p.domain}", ip_of(i)), range(start, start + n)
            )
        )
    return n / (time.monotonic() - t0)


def key_count(p: Pipeline) -> int:
    return int(p.etcd.get_prefix_response(p.prefix + "/", count_only=True).count)


def revision(p: Pipeline) -> int:
    return int(p.etcd.get_response("/").header.revision)


def dns_query(port: int, name: str) -> bytes:
    qid = 0x4242
    labels = b"".join(bytes([len(x)]) + x.encode() for x in name.split(".")) + b"\0"
    packet = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + labels + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        s.sendto(packet, ("127.0.0.1", port))
        return s.recv(4096)


def answered(port: int, name: str) -> bool:
    try:
        reply = dns_query(port, name)
    except OSError:
        return False
    return struct.unpack(">H", reply[6:8])[0] > 0


def start_dns(p: Pipeline) -> int:
    port = testenv.free_port()
    corefile = p.logdir / "Corefile"
    corefile.write_text(
        f"{p.domain} {{\n  etcd {{\n    path {p.prefix}\n    endpoint {p.env['ETCD_URLS']}\n  }}\n}}\n"
    )
    p.start(
        "dns", "-m", "dnsserver", "-conf", str(corefile), "-dns.port", str(port), "-dns.host", "127.0.0.1"
    )
    p.wait("the DNS server", lambda: _listening(port), 30)
    return port


def _listening(port: int) -> bool:
    try:
        dns_query(port, "probe.invalid")
        return True
    except OSError:
        return False


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def bench_latency(p: Pipeline, n: int) -> list[tuple[str, str]]:
    p.start_worker()
    p.start_emitter()
    dns_port = start_dns(p)
    ns = namespace(p.core)
    for i in range(n):
        create(p.core, ns, f"l{i}", f"l{i}.{p.domain}", None)
    time.sleep(1)
    to_etcd: list[float] = []
    to_dns: list[float] = []
    for i in range(n):
        name = f"l{i}.{p.domain}"
        base = "/".join([p.prefix, *reversed(name.split(".")), ""])
        t0 = time.monotonic()
        p.core.patch_namespaced_service_status(
            f"l{i}", ns, {"status": {"loadBalancer": {"ingress": [{"ip": ip_of(i)}]}}}
        )
        etcd_at = dns_at = 0.0
        while not (etcd_at and dns_at) and time.monotonic() - t0 < 10:
            if not etcd_at and p.etcd.get_prefix_response(base, count_only=True).count:
                etcd_at = time.monotonic()
            if not dns_at and answered(dns_port, name):
                dns_at = time.monotonic()
            time.sleep(0.001)
        if not (etcd_at and dns_at):
            raise AssertionError(f"{name} not answered within 10 s")
        to_etcd.append(etcd_at - t0)
        to_dns.append(dns_at - t0)
    return [
        (
            f"event → record in etcd, {n} Services, 1 worker",
            f"p50 {pct(to_etcd, 0.5):.0f} ms  p99 {pct(to_etcd, 0.99):.0f} ms",
        ),
        (
            f"event → DNS answer, {n} Services, 1 worker",
            f"p50 {pct(to_dns, 0.5):.0f} ms  p99 {pct(to_dns, 0.99):.0f} ms",
        ),
    ]


def bench_loaded(p: Pipeline, probes: int, rate: float, background: int) -> list[tuple[str, str]]:
    """Event → DNS answer for `probes` Services, one at a time, while `rate` other events/s flow.

    Two worker processes (concurrency 1 each) and the emitter; the background events are status
    PATCHes of `background` LoadBalancer Services (a new IP each, so each is a record write), paced
    by 4 threads; the rate achieved is reported, not assumed.
    """
    p.start_worker("worker0")
    p.start_worker("worker1")
    p.start_emitter()
    dns_port = start_dns(p)
    ns = namespace(p.core)
    for i in range(probes):
        create(p.core, ns, f"l{i}", f"l{i}.{p.domain}", None)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: create(p.core, ns, f"g{i}", f"g{i}.{p.domain}", ip_of(i)), range(background)))
    p.wait("the background Services' records", lambda: key_count(p) >= 2 * background, 300)
    stop = threading.Event()
    sent = [0]

    def load(k: int) -> None:
        core = client.CoreV1Api(p.core.api_client)
        interval, n = 4 / rate, 0
        next_at = time.monotonic()
        while not stop.is_set():
            i = (k + 4 * n) % background
            body = {"status": {"loadBalancer": {"ingress": [{"ip": ip_of(background + k * 65536 + n)}]}}}
            core.patch_namespaced_service_status(f"g{i}", ns, body)
            sent[0] += 1
            n += 1
            next_at += interval
            stop.wait(max(0.0, next_at - time.monotonic()))

    threads = [threading.Thread(target=load, args=(k,), daemon=True) for k in range(4)]
    for t in threads:
        t.start()
    time.sleep(2)  # the load reaches its pace
    t_load, sent0 = time.monotonic(), sent[0]
    took: list[float] = []
    try:
        for i in range(probes):
            name = f"l{i}.{p.domain}"
            t0 = time.monotonic()
            p.core.patch_namespaced_service_status(
                f"l{i}", ns, {"status": {"loadBalancer": {"ingress": [{"ip": ip_of(60000 + i)}]}}}
            )
            while not answered(dns_port, name):
                if time.monotonic() - t0 > 10:
                    raise AssertionError(f"{name} not answered within 10 s")
                time.sleep(0.001)
            took.append(time.monotonic() - t0)
            time.sleep(0.05)
    finally:
        achieved = (sent[0] - sent0) / (time.monotonic() - t_load)
        stop.set()
        for t in threads:
            t.join(10)
    return [
        (
            f"event → DNS answer under load, {probes} measured, 2 workers",
            f"p50 {pct(took, 0.5):.0f} ms  p99 {pct(took, 0.99):.0f} ms  "
            f"(background {achieved:.0f} events/s achieved of {rate:.0f} asked)",
        )
    ]


def bench_burst(p: Pipeline, n: int, workers: int) -> tuple[str, str]:
    p.start_emitter()
    ns = namespace(p.core)
    rate = create_many(p, ns, n)
    pending = lambda: int(p.redis().zcard(PENDING))  # noqa: E731
    p.wait("every object queued", lambda: pending() >= n, 120)
    t0 = time.monotonic()
    for w in range(workers):
        p.start_worker(f"worker{w}", concurrency=1)
    first = 0.0
    while key_count(p) < 2 * n:
        if not first and key_count(p):
            first = time.monotonic()
        if time.monotonic() - t0 > 600:
            raise AssertionError(f"burst not done: {key_count(p)} of {2 * n} keys")
        time.sleep(0.05)
    took, drain = time.monotonic() - t0, time.monotonic() - (first or t0)
    return (
        f"burst of {n} Services, {workers} worker process(es)",
        f"{n / took:.0f} objects/s incl. worker start ({took:.1f} s); {n / drain:.0f}/s from first write; "
        f"API create rate {rate:.0f}/s",
    )


def bench_noop(p: Pipeline, n: int) -> tuple[str, str]:
    ns = namespace(p.core)
    create_many(p, ns, n)
    env = {**p.env, "EXTERNAL_DNS_METRICS_ADDRESS": ""}
    cmd = [sys.executable, "-m", "process.cli", "sync", "--once"]
    subprocess.run(cmd, env=env, check=True, capture_output=True)  # the cold sync that writes everything
    before, usage = revision(p), resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    assert "All records are already up to date" in out.stderr, out.stderr[-2000:]
    return (
        f"no-op resync, {n} Services (`extdns sync --once`)",
        f"wall {wall:.2f} s, CPU {cpu:.2f} s (process incl. start-up), etcd writes {revision(p) - before}",
    )


GATEWAY_API = ("gateway.networking.k8s.io", "v1")


def accepted(gateway: str) -> dict[str, Any]:
    """A route status saying the Gateway accepted the route."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    condition = {"type": "Accepted", "status": "True", "reason": "Accepted", "message": "",
                 "lastTransitionTime": now}  # fmt: skip
    parent = {
        "parentRef": {"name": gateway},
        "controllerName": "example.net/gateway",
        "conditions": [condition],
    }
    return {"status": {"parents": [parent]}}


def bench_httproute(p: Pipeline, n: int, rounds: int) -> list[tuple[str, str]]:
    api = p.core.api_client
    kubeconfig = Path(p.env["KUBECONFIG"])
    ensure_crds(Kube(api_client(str(kubeconfig))), kubeconfig, p.logdir)
    custom = client.CustomObjectsApi(api)
    ns = namespace(p.core)
    gateway = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "gw"},
        "spec": {
            "gatewayClassName": "bench",
            "listeners": [{"name": "http", "port": 80, "protocol": "HTTP", "hostname": f"*.{p.domain}"}],
        },
    }
    custom.create_namespaced_custom_object(*GATEWAY_API, ns, "gateways", gateway)
    custom.patch_namespaced_custom_object_status(
        *GATEWAY_API,
        ns,
        "gateways",
        "gw",
        {"status": {"addresses": [{"type": "IPAddress", "value": "10.9.0.1"}]}},
    )
    p.start_worker()
    p.start_emitter()
    dns_port = start_dns(p)

    def host(i: int, r: int) -> str:
        return f"r{i}-{r}.{p.domain}"

    for i in range(n):
        route = {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": f"r{i}"},
            "spec": {"parentRefs": [{"name": "gw"}], "hostnames": [host(i, 0)]},
        }
        custom.create_namespaced_custom_object(*GATEWAY_API, ns, "httproutes", route)
        custom.patch_namespaced_custom_object_status(*GATEWAY_API, ns, "httproutes", f"r{i}", accepted("gw"))
    p.wait("every route answered", lambda: all(answered(dns_port, host(i, 0)) for i in range(n)), 120)
    p50s: list[float] = []
    p99s: list[float] = []
    for r in range(1, rounds + 1):
        took: list[float] = []
        for i in range(n):
            name = host(i, r)
            t0 = time.monotonic()
            custom.patch_namespaced_custom_object(
                *GATEWAY_API, ns, "httproutes", f"r{i}", {"spec": {"hostnames": [name]}}
            )
            while not answered(dns_port, name):
                if time.monotonic() - t0 > 10:
                    raise AssertionError(f"{name} not answered within 10 s")
                time.sleep(0.001)
            took.append(time.monotonic() - t0)
        p50s.append(pct(took, 0.5))
        p99s.append(pct(took, 0.99))

    def spread(values: list[float]) -> str:
        return f"{statistics.median(values):.0f} ms ({min(values):.0f}-{max(values):.0f})"

    return [
        (
            f"HTTPRoute hostname change → DNS answer, {n} routes, 1 worker, median of {rounds} rounds",
            f"p50 {spread(p50s)}  p99 {spread(p99s)}",
        )
    ]


def print_table(title: str, context: str, rows: list[tuple[str, str]]) -> None:
    """Two aligned columns under a header naming the run (context) and the date."""
    width = max(len(r[0]) for r in rows)
    print(f"\n{title.ljust(width)}  result  ({context}, {time.strftime('%Y-%m-%d')})")
    for name, result in rows:
        print(f"{name.ljust(width)}  {result}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=int, default=200)
    ap.add_argument("--loaded", type=int, default=200, help="measured events under load (0: skip)")
    ap.add_argument("--load-rate", type=float, default=200.0, help="background events per second")
    ap.add_argument("--load-services", type=int, default=2000, help="Services the background patches")
    ap.add_argument("--burst", type=int, default=5000)
    ap.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--noop", type=int, default=10000)
    ap.add_argument(
        "--httproute", type=int, default=100, help="routes in the HTTPRoute latency bench (0: skip)"
    )
    ap.add_argument("--rounds", type=int, default=3, help="rounds of the HTTPRoute bench")
    args = ap.parse_args()
    rows: list[tuple[str, str]] = []
    with testenv.stack() as s:
        redis_url, etcd_url, kubeconfig = s.start_redis(), s.start_etcd(), s.start_kube()

        def run(step: str, fn: object, *a: object, **env: str) -> None:
            tmp = Path(tempfile.mkdtemp(prefix=f"bench-{step}-"))
            p = make_pipeline(redis_url, etcd_url, kubeconfig, tmp, EXTERNAL_DNS_INTERVAL="1h", **env)
            try:
                out = fn(p, *a)  # type: ignore[operator]
                rows.extend(out if isinstance(out, list) else [out])
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
            finally:
                p.stop()
                p.redis().flushdb()

        if args.latency:
            run("latency", bench_latency, args.latency)
        if args.loaded:
            run("loaded", bench_loaded, args.loaded, args.load_rate, args.load_services)
        for w in args.workers if args.burst else []:
            run(f"burst{w}", bench_burst, args.burst, w)
        if args.noop:
            run("noop", bench_noop, args.noop)
        if args.httproute:
            run(
                "httproute",
                bench_httproute,
                args.httproute,
                args.rounds,
                EXTERNAL_DNS_SOURCE="gateway-httproute",
            )
    print_table("benchmark", f"{os.cpu_count()} cores", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
