"""The cheap check a running worker makes of the cluster before a resync, on the real kube-apiserver.

`fingerprint` notes the LISTs a resync made and a digest of each one's versions; `matches` makes the
same LISTs with metadata only and compares. The records' side, `EtcdStore.state`, is in
tests/integration/test_etcd_records.py.
"""

from __future__ import annotations

from pathlib import Path

from kubernetes import client

from adapters.kube_api import Kube, api_client
from adapters.kube_cluster import fingerprint, matches, read_all
from extdns.sources import Cluster, SourceConfig
from tests.e2e.test_pipeline import namespace

HOST = "external-dns.alpha.kubernetes.io/hostname"


def service(core: client.CoreV1Api, ns: str, name: str, headless: bool = False) -> None:
    spec: dict[str, object] = {"ports": [{"port": 80}], "selector": {"app": name}}
    if headless:
        spec["clusterIP"] = "None"
    body = {"metadata": {"name": name, "annotations": {HOST: f"{name}.example.org"}}, "spec": spec}
    core.create_namespaced_service(ns, body)


def pod(core: client.CoreV1Api, ns: str, name: str, app: str) -> None:
    body = {
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": {"containers": [{"name": "c", "image": "example.invalid/none"}]},
    }
    core.create_namespaced_pod(ns, body)


def same(kube: Kube, sources: tuple[str, ...], cfg: SourceConfig, before: Cluster) -> bool:
    """The skip check: a fingerprint text of the last reading, checked later (maybe by another process)."""
    return matches(kube, cfg, fingerprint(sources, cfg, before))


def test_the_check_sees_every_change_a_resync_would_read_and_nothing_it_would_not(
    admin: Kube, kubeconfig: Path
) -> None:
    kube = admin
    core = client.CoreV1Api(api_client(str(kubeconfig)))
    ns = namespace(core)
    cfg = SourceConfig(namespace=ns)
    sources = ("service", "ingress")
    service(core, ns, "web")
    before = read_all(kube, sources, cfg)
    assert same(kube, sources, cfg, before)
    light = kube.list("Service", ns, metadata_only=True)[0]
    assert [o["metadata"]["name"] for o in light] == ["web"] and "spec" not in light[0], "metadata only"
    pod(core, ns, "p1", "web")
    assert same(kube, sources, cfg, before), "no headless Service: Pods are not read, so not compared"
    core.patch_namespaced_service("web", ns, {"metadata": {"annotations": {HOST: "www.example.org"}}})
    assert not same(kube, sources, cfg, before), "a Service changed"
    before = read_all(kube, sources, cfg)
    service(core, ns, "db", headless=True)
    assert not same(kube, sources, cfg, before), "a Service was added"
    before = read_all(kube, sources, cfg)
    assert len(before.pods) == 1 and same(kube, sources, cfg, before)
    pod(core, ns, "p2", "db")
    assert not same(kube, sources, cfg, before), "a headless Service's Pods are read: a new one counts"
    before = read_all(kube, sources, cfg)
    core.delete_namespaced_service("db", ns)
    assert not same(kube, sources, cfg, before), "a Service was deleted"
