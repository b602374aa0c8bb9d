"""deploy/ for real: the whole system in pods on the one-node cluster of tools.cluster, with drills.

`kubectl apply -k tests/cluster/overlay` (deploy/ with images built on this machine), every pod
Ready through its own probes, the seed's nginx-frontend answered by the DNS Service through
kube-proxy over UDP and TCP; then pods are deleted one kind at a time while answers and writes are
watched. Each drill prints its timing (`pytest -s` shows them).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from dnslib import QTYPE, DNSRecord
from kubernetes import client, config

from tools import cluster

ROOT = Path(__file__).resolve().parents[2]
OVERLAY = Path(__file__).resolve().parent / "overlay"
NS = "dns"
LB_IP = "203.0.113.10"  # TEST-NET addresses: only ever written into DNS, never contacted
BURST_IP = "198.51.100.7"
ROLLOUTS = (
    "statefulset/etcd",
    "deployment/redis",
    "deployment/extdns-emitter",
    "deployment/extdns-worker",
    "deployment/extdns-beat",
    "deployment/extdns-dnsserver",
    "deployment/extdns-flower",
)

pytestmark = pytest.mark.timeout(1200)


def say(msg: str) -> None:
    print(f"[cluster] {msg}", flush=True)


def wait_for(what: str, check: Callable[[], bool], timeout: float, interval: float = 0.2) -> float:
    """Seconds until check() is true; fail after timeout."""
    t0 = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - t0
        except Exception:
            pass
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"{what}: not true after {timeout:.0f}s")
        time.sleep(interval)


def answers(server: str, name: str, qtype: str = "A", tcp: bool = False, timeout: float = 1.0) -> list[str]:
    reply = DNSRecord.parse(DNSRecord.question(name, qtype).send(server, 53, tcp=tcp, timeout=timeout))
    return sorted(str(rr.rdata) for rr in reply.rr if rr.rtype == getattr(QTYPE, qtype))


@dataclass
class System:
    node: cluster.Node
    core: client.CoreV1Api
    dns_ip: str
    timings: dict[str, float] = field(default_factory=dict)

    def kubectl(self, *args: str, input: str | None = None) -> str:
        return self.node.kubectl(*args, input=input)

    def pods(self, selector: str) -> list[Any]:
        items: list[Any] = self.core.list_namespaced_pod(NS, label_selector=selector).items
        return items

    def ready_pods(self, selector: str) -> list[str]:
        return [
            p.metadata.name
            for p in self.pods(selector)
            if p.metadata.deletion_timestamp is None
            and any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))
        ]

    def answer(self, name: str, qtype: str = "A", tcp: bool = False) -> list[str]:
        return answers(self.dns_ip, name, qtype, tcp)

    def service(self, name: str, hostname: str, ip: str, namespace: str = "default") -> None:
        """A Service named by the hostname annotation, its A record's address from the target annotation.

        ExternalName: no cluster IP, no node port, nothing for kube-proxy to program, so 500 of them
        load only the system under test.
        """
        annotations = {
            "external-dns.alpha.kubernetes.io/hostname": hostname,
            "external-dns.alpha.kubernetes.io/target": ip,
        }
        body = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "annotations": annotations},
            "spec": {"type": "ExternalName", "externalName": "unused.invalid"},
        }
        self.core.create_namespaced_service(namespace, body)


@pytest.fixture(scope="module")
def system() -> Iterator[System]:
    t0 = time.monotonic()
    with cluster.cluster() as node:
        up = time.monotonic() - t0
        api = config.new_client_from_config(config_file=str(node.kubeconfig))
        core = client.CoreV1Api(api)
        t1 = time.monotonic()
        node.kubectl("apply", "-k", str(OVERLAY))
        rollouts = {}
        for rollout in ROLLOUTS:  # each one's wait, so a slow one is named
            node.kubectl("-n", NS, "rollout", "status", rollout, "--timeout=600s")
            rollouts[rollout] = time.monotonic() - t1
        node.kubectl("-n", NS, "wait", "--for=condition=Ready", "pod", "--all", "--timeout=300s")
        ready = time.monotonic() - t1
        dns_ip = core.read_namespaced_service("extdns-dns", NS).spec.cluster_ip
        s = System(node, core, dns_ip, {"cluster up": up, "apply -k to every pod Ready": ready})
        say(f"cluster up in {up:.1f}s; apply -k → every pod Ready in {ready:.1f}s; DNS Service {dns_ip}")
        say("rolled out, seconds after apply: " + ", ".join(f"{k} {v:.1f}" for k, v in rollouts.items()))
        try:
            yield s
        finally:
            for k, v in s.timings.items():
                say(f"timing: {k}: {v:.1f}s")
            api.close()


def test_nginx_frontend_answers_through_kube_proxy_over_udp_and_tcp(system: System) -> None:
    seed = next(
        d
        for d in yaml.safe_load_all((ROOT / "examples" / "nginx.yaml").read_text())
        if d["kind"] == "Service"
    )
    system.kubectl("apply", "-f", "-", input=json.dumps(seed))
    t0 = time.monotonic()
    system.kubectl(
        "-n", "default", "patch", "service", "nginx-frontend", "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": {"loadBalancer": {"ingress": [{"ip": LB_IP}]}}}),
    )  # fmt: skip
    took = wait_for("nginx.example.org over UDP", lambda: system.answer("nginx.example.org") == [LB_IP], 120)
    system.timings["load-balancer address → answer (UDP)"] = took
    assert system.answer("nginx.example.org", tcp=True) == [LB_IP]
    assert time.monotonic() - t0 < 120


def test_pods_run_as_the_declared_non_root_users_with_read_only_root(system: System) -> None:
    declared: dict[str, tuple[int, bool]] = {}
    for pod in system.pods(""):
        pod_uid = pod.spec.security_context.run_as_user if pod.spec.security_context else None
        for c in pod.spec.containers:
            sc = c.security_context
            uid = sc.run_as_user if sc and sc.run_as_user is not None else pod_uid
            declared[f"{pod.metadata.name}/{c.name}"] = (uid, bool(sc and sc.read_only_root_filesystem))
    assert declared and all(uid and uid > 0 for uid, _ in declared.values()), declared
    assert all(ro for _, ro in declared.values()), declared
    ps = json.loads(system.node.crictl("ps", "-o", "json", "--namespace", NS).stdout)["containers"]
    seen = {}
    for c in ps:
        spec = json.loads(system.node.crictl("inspect", c["id"]).stdout)["info"]["runtimeSpec"]
        labels = c["labels"]
        key = f"{labels['io.kubernetes.pod.name']}/{labels['io.kubernetes.container.name']}"
        seen[key] = (spec["process"]["user"]["uid"], bool(spec["root"].get("readonly")))
    assert seen == declared


class Prober:
    """Queries the DNS Service every 20 ms in a thread; counts answers and failures."""

    def __init__(self, system: System, name: str, expect: list[str]) -> None:
        self.system, self.name, self.expect = system, name, expect
        self.ok = self.failed = self.retried_failed = 0
        self.longest_gap = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _once(self) -> bool:
        try:
            return self.system.answer(self.name) == self.expect
        except Exception:
            return False

    def _run(self) -> None:
        last_ok = time.monotonic()
        while not self._stop.is_set():
            if self._once():
                self.ok += 1
                last_ok = time.monotonic()
            else:
                self.failed += 1
                if not self._once():  # a resolver asks again
                    self.retried_failed += 1
                self.longest_gap = max(self.longest_gap, time.monotonic() - last_ok)
            time.sleep(0.02)

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> str:
        return (
            f"{self.ok} answered, {self.failed} failed once, {self.retried_failed} failed twice, "
            f"longest gap {self.longest_gap:.2f}s"
        )


def test_drill_delete_a_dnsserver_pod_the_others_answer(system: System) -> None:
    victim = system.ready_pods("app.kubernetes.io/component=dnsserver")[0]
    with Prober(system, "nginx.example.org", [LB_IP]) as probe:
        time.sleep(1)
        t0 = time.monotonic()
        system.kubectl("-n", NS, "delete", "pod", victim, "--wait=true")
        wait_for(
            "three dnsservers Ready",
            lambda: len(system.ready_pods("app.kubernetes.io/component=dnsserver")) == 3,
            180,
        )
        system.timings["dnsserver pod deleted → 3 Ready again"] = time.monotonic() - t0
        time.sleep(2)
    say(f"dnsserver drill: {probe.summary()}")
    assert probe.ok > 100
    # The deleted server answers through its 5 s lameduck while kube-proxy moves queries away.
    assert probe.failed == 0, probe.summary()


def test_drill_delete_an_etcd_member_writes_and_answers_continue(system: System) -> None:
    victim = "etcd-1"
    with Prober(system, "nginx.example.org", [LB_IP]) as probe:
        t0 = time.monotonic()
        system.kubectl("-n", NS, "delete", "pod", victim, "--wait=true")
        system.service("etcd-drill", "etcd-drill.example.org", "198.51.100.1")
        took = wait_for(
            "a write while etcd-1 is away",
            lambda: system.answer("etcd-drill.example.org") == ["198.51.100.1"],
            60,
        )
        away = victim not in system.ready_pods("app.kubernetes.io/name=etcd")
        system.timings["etcd member deleted: new name answered after"] = took
        back = wait_for(
            "etcd-1 Ready (rejoined)", lambda: victim in system.ready_pods("app.kubernetes.io/name=etcd"), 300
        )
        system.timings["etcd member deleted → Ready again"] = time.monotonic() - t0
        say(f"etcd drill: write answered in {took:.1f}s, member back after {back:.1f}s more")
    say(f"etcd drill: {probe.summary()}")
    assert away, "etcd-1 was back before the write was answered: the drill proved nothing"
    assert probe.retried_failed == 0, probe.summary()


def lease_holder(system: System) -> str:
    lease = client.CoordinationV1Api(system.core.api_client).read_namespaced_lease("extdns-emitter", NS)
    return str(lease.spec.holder_identity or "")


def test_drill_delete_the_emitter_leader_another_leads(system: System) -> None:
    holder = lease_holder(system)
    emitters = system.ready_pods("app.kubernetes.io/component=emitter")
    leader = next(p for p in emitters if holder.startswith(p + "-"))
    system.kubectl("-n", NS, "delete", "pod", leader, "--wait=false")

    def new_leader() -> str:
        now = lease_holder(system)
        return now if now and not now.startswith(leader + "-") else ""

    took = wait_for("another emitter holds the lease", lambda: bool(new_leader()), 60, 0.05)
    standby = any(new_leader().startswith(p + "-") for p in emitters if p != leader)
    who = "the standby" if standby else "the Deployment's replacement pod"
    system.timings[f"emitter leader deleted → {who} holds the lease"] = took
    system.service("emitter-drill", "emitter-drill.example.org", "198.51.100.2")
    took2 = wait_for(
        "a change after the takeover",
        lambda: system.answer("emitter-drill.example.org") == ["198.51.100.2"],
        60,
    )
    system.timings["after the takeover: a new Service answered in"] = took2
    say(f"emitter drill: {who} led after {took:.2f}s; a new Service answered {took2:.2f}s later")
    # The leader releases the lease on SIGTERM; standbys look every 2 s (far inside the 15 s lease).
    assert took < 2 + 3


def test_drill_kill_the_worker_in_the_middle_of_a_burst_all_converge(system: System) -> None:
    """One worker for the drill, so what Redis holds unacknowledged at the kill is provably its own."""
    workers = "app.kubernetes.io/component=worker"
    system.kubectl("-n", NS, "scale", "deployment/extdns-worker", "--replicas=1")
    wait_for("one worker", lambda: len(system.pods(workers)) == len(system.ready_pods(workers)) == 1, 180)
    broker = redis.Redis(host=system.pods("app.kubernetes.io/name=redis")[0].status.pod_ip, port=6379)
    names = [f"burst-{i:03d}" for i in range(500)]
    half = threading.Event()
    created = 0
    lock = threading.Lock()

    def create(n: str) -> None:
        nonlocal created
        system.service(n, f"{n}.example.org", BURST_IP)
        with lock:
            created += 1
            if created == len(names) // 2:
                half.set()

    try:
        t0 = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            creating = pool.map(create, names)
            # The middle: half the Services exist, the first are answered, the worker holds messages.
            half.wait(120)
            wait_for("the burst under way", lambda: bool(system.answer("burst-010.example.org")), 120, 0.05)
            wait_for("the worker holding messages", lambda: int(broker.hlen("unacked")) > 0, 60, 0.01)
            victim = system.ready_pods(workers)[0]
            ps = system.node.crictl(
                "ps", "-q", "--label", f"io.kubernetes.pod.name={victim}", "--name", "worker"
            )
            system.node.crictl("stop", "--timeout", "0", ps.stdout.split()[0])  # SIGKILL, no warm shutdown
            killed_at = time.monotonic() - t0
            held = int(broker.hlen("unacked"))  # delivered to it, never acknowledged: its work in flight
            at_kill = sum(1 for n in names[::10] if system.answer(f"{n}.example.org") == [BURST_IP]) * 10
            system.kubectl("-n", NS, "delete", "pod", victim, "--grace-period=0", "--force", "--wait=false")
            list(creating)
        assert held > 0 and at_kill < 500, (held, at_kill)
        missing = list(names)

        def converged() -> bool:
            missing[:] = [n for n in missing if system.answer(f"{n}.example.org") != [BURST_IP]]
            return not missing

        wait_for("all 500 answered", converged, 300, 1.0)
        total = time.monotonic() - t0
        system.timings[f"500 Services burst (the worker SIGKILLed at {killed_at:.1f}s) → all answered"] = (
            total
        )
        say(
            f"worker drill: the only worker SIGKILLed {killed_at:.1f}s into the burst holding {held} unacknowledged "
            f"messages (at most about {at_kill} of 500 answered by then), its pod deleted; "
            f"all 500 answered after {total:.1f}s"
        )
    finally:
        system.kubectl("-n", NS, "scale", "deployment/extdns-worker", "--replicas=2")
        system.kubectl("-n", NS, "rollout", "status", "deployment/extdns-worker", "--timeout=300s")


def test_drill_restart_redis_converged_within_one_resync(system: System) -> None:
    selector = "app.kubernetes.io/name=redis"
    t0 = time.monotonic()
    system.kubectl("-n", NS, "scale", "deployment/redis", "--replicas=0")
    wait_for("redis gone", lambda: not system.pods(selector), 120)
    system.service("redis-drill", "redis-drill.example.org", "198.51.100.3")
    time.sleep(5)  # the change waits while the broker is away
    assert system.answer("redis-drill.example.org") == []
    system.kubectl("-n", NS, "scale", "deployment/redis", "--replicas=1")
    wait_for("redis Ready again", lambda: bool(system.ready_pods(selector)), 180)
    back = time.monotonic()
    took = wait_for(
        "the change made during the outage",
        lambda: system.answer("redis-drill.example.org") == ["198.51.100.3"],
        120,
    )
    system.timings["redis down (scaled to 0, a change made) → Ready again"] = back - t0
    system.timings["redis Ready → change made during the outage answered"] = took
    say(f"redis drill: outage {back - t0:.1f}s; the change answered {took:.1f}s after Redis was Ready")
    assert took <= 15 + 5  # one resync interval (EXTERNAL_DNS_INTERVAL=15s) and the pipeline


def test_network_policies_are_not_enforced_by_the_bridge_cni(system: System) -> None:
    """deploy/'s policies admit only extdns pods to Redis; the bridge plugin enforces none (docs/deploy.md)."""
    probe = "import socket; s = socket.create_connection(('redis', 6379), 5); s.sendall(b'PING\\r\\n'); print(s.recv(16))"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "not-admitted", "labels": {"app.kubernetes.io/name": "stranger"}},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "probe",
                    "image": "localhost/extdns:0.1.0",
                    "imagePullPolicy": "Never",
                    "command": ["python", "-c", probe],
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }
    system.kubectl("-n", NS, "apply", "-f", "-", input=json.dumps(pod))
    wait_for(
        "the probe pod to finish",
        lambda: system.core.read_namespaced_pod("not-admitted", NS).status.phase in ("Succeeded", "Failed"),
        120,
    )
    out = system.kubectl("-n", NS, "logs", "not-admitted")
    system.kubectl("-n", NS, "delete", "pod", "not-admitted", "--wait=false")
    assert "+PONG" in out, f"a pod the Redis NetworkPolicy does not admit got no answer: enforced now? {out}"
