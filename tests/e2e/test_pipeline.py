"""The whole control plane on the real kube-apiserver, Redis and etcd: emitter → queue → worker → etcd."""

from __future__ import annotations

import re
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from tests.e2e.pipeline import Pipeline, make_pipeline

HOSTNAME = "external-dns.alpha.kubernetes.io/hostname"


@pytest.fixture
def pipeline(redis_url: str, etcd_url: str, kubeconfig: Path, tmp_path: Path) -> Iterator[Pipeline]:
    p = make_pipeline(redis_url, etcd_url, kubeconfig, tmp_path)
    try:
        yield p
    finally:
        p.stop()


def namespace(core: client.CoreV1Api) -> str:
    ns = f"p-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    return ns


def lb_service(core: client.CoreV1Api, ns: str, name: str, hostname: str, ip: str | None = None) -> None:
    core.create_namespaced_service(
        ns,
        client.V1Service(
            metadata=client.V1ObjectMeta(name=name, annotations={HOSTNAME: hostname}),
            spec=client.V1ServiceSpec(type="LoadBalancer", ports=[client.V1ServicePort(port=80)]),
        ),
    )
    if ip:
        set_lb(core, ns, name, ip)


def set_lb(core: client.CoreV1Api, ns: str, name: str, *ips: str) -> None:
    body = {"status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips]}}}
    core.patch_namespaced_service_status(name, ns, body)


def test_service_records_follow_create_update_delete(pipeline: Pipeline) -> None:
    p = pipeline
    p.start_worker()
    p.start_emitter()
    ns = namespace(p.core)
    name = f"nginx.{p.domain}"
    lb_service(p.core, ns, "nginx", name)
    set_lb(p.core, ns, "nginx", "203.0.113.10")
    p.wait("the A record", lambda: p.hosts(name) == ["203.0.113.10"])
    texts = [v["text"] for k, v in p.records().items() if "/a-nginx/" in k]
    assert texts == [
        f'"heritage=external-dns,external-dns/owner={p.env["EXTERNAL_DNS_TXT_OWNER_ID"]},'
        f'external-dns/resource=service/{ns}/nginx"'
    ]
    set_lb(p.core, ns, "nginx", "203.0.113.11", "203.0.113.12")
    p.wait("the new targets", lambda: p.hosts(name) == ["203.0.113.11", "203.0.113.12"])
    p.core.delete_namespaced_service("nginx", ns)
    p.wait("records and ownership gone", lambda: p.records() == {})


def test_ingress_records_come_from_rules_and_status(pipeline: Pipeline) -> None:
    p = pipeline
    p.start_worker()
    p.start_emitter()
    ns = namespace(p.core)
    net = client.NetworkingV1Api(p.core.api_client)
    host = f"shop.{p.domain}"
    net.create_namespaced_ingress(
        ns,
        client.V1Ingress(
            metadata=client.V1ObjectMeta(name="shop"),
            spec=client.V1IngressSpec(rules=[client.V1IngressRule(host=host)]),
        ),
    )
    net.patch_namespaced_ingress_status(
        "shop", ns, {"status": {"loadBalancer": {"ingress": [{"hostname": f"lb.{p.domain}"}]}}}
    )
    p.wait("the CNAME", lambda: p.hosts(host) == [f"lb.{p.domain}"])


def test_two_objects_claiming_one_name_end_as_a_resync_would(pipeline: Pipeline) -> None:
    p = pipeline
    p.start_worker(concurrency=2)
    p.start_emitter()
    ns = namespace(p.core)
    shared = f"shared.{p.domain}"
    lb_service(p.core, ns, "b", shared, "198.51.100.2")
    lb_service(p.core, ns, "a", shared, "198.51.100.1")
    # Both are A candidates for one name: ExternalDNS merges the targets of one source.
    p.wait("both targets", lambda: p.hosts(shared) == ["198.51.100.1", "198.51.100.2"])
    p.core.delete_namespaced_service("b", ns)
    p.wait("only a's target", lambda: p.hosts(shared) == ["198.51.100.1"])
    p.start_beat()
    p.wait("a resync", lambda: "extdns.resync" in p.log("worker") and "succeeded" in p.log("worker"), 20)
    assert p.hosts(shared) == ["198.51.100.1"]


def test_resync_repairs_what_an_event_missed_and_removes_orphans(pipeline: Pipeline) -> None:
    p = pipeline
    ns = namespace(p.core)
    name = f"missed.{p.domain}"
    lb_service(p.core, ns, "missed", name, "192.0.2.7")  # no emitter running: nobody sees the event
    p.start_worker()
    p.start_beat()
    p.wait("the resync to write it", lambda: p.hosts(name) == ["192.0.2.7"], 30)
    p.core.delete_namespaced_service("missed", ns)
    p.wait("the resync to remove it", lambda: p.records() == {}, 30)
    p.wait("a no-op resync", lambda: "All records are already up to date" in p.log("worker"), 15)


def test_a_sharded_resync_writes_and_removes_every_name_across_its_shards(pipeline: Pipeline) -> None:
    p = pipeline
    ns = namespace(p.core)
    names = [f"sh{i}.{p.domain}" for i in range(12)]
    for i, name in enumerate(names):  # no emitter: only the resync can write them
        lb_service(p.core, ns, f"sh{i}", name, f"10.30.0.{i + 1}")
    shards = {"EXTERNAL_DNS_RESYNC_SHARDS": "3"}
    p.start_worker(concurrency=2, env=shards)
    p.start_beat()
    p.wait("every name from the shards", lambda: all(p.hosts(n) for n in names), 30)
    for i in range(6):
        p.core.delete_namespaced_service(f"sh{i}", ns)
    p.wait("the deleted six removed", lambda: not any(p.hosts(n) for n in names[:6]), 30)
    assert all(p.hosts(n) == [f"10.30.0.{i + 1}"] for i, n in enumerate(names) if i >= 6)
    p.wait(
        "each shard to find nothing to do",
        lambda: set(re.findall(r'up to date.*shard="?(\d)/3', p.log("worker"))) == {"1", "2", "3"},
        15,
    )
    done = re.findall(r"Task extdns\.resync_shard\[[^\]]+\] succeeded", p.log("worker"))
    assert len(done) >= 6, "two resyncs at least, three shard tasks each"
    p.wait(
        "a round skipped on the shards' shared notes",
        lambda: re.search(r'up to date.*inputs="?unchanged.*shards="?3', p.log("worker")) is not None,
        15,
    )


def test_a_sigkilled_worker_loses_nothing(pipeline: Pipeline) -> None:
    p = pipeline
    p.start_emitter()
    ns = namespace(p.core)
    names = [f"k{i}.{p.domain}" for i in range(30)]
    for i, name in enumerate(names):
        lb_service(p.core, ns, f"k{i}", name, f"10.20.0.{i + 1}")
    victim = p.start_worker("victim")
    p.wait("the victim to start", lambda: "ready." in p.log("victim"))
    victim.popen.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
    victim.popen.wait()  # type: ignore[union-attr]
    del p.procs["victim"]
    p.start_worker("survivor")
    p.wait("every record", lambda: all(p.hosts(n) for n in names), 60)
