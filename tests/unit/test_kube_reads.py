"""The resync reads only what the sources need: no Pods, Nodes or EndpointSlices unless a Service needs them."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.kube_cluster import read_all
from extdns.sources import Cluster, SourceConfig
from extdns.sources.collect import collect

HOST = "external-dns.alpha.kubernetes.io/hostname"


def svc(name: str, spec: dict[str, Any], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta = {
        "name": name,
        "namespace": "default",
        "annotations": {HOST: f"{name}.example.org", **(annotations or {})},
    }
    return {"kind": "Service", "metadata": meta, "spec": spec, "status": {}}


LB = svc("lb", {"type": "LoadBalancer", "clusterIP": "10.0.0.5"}) | {
    "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.5"}]}}
}
HEADLESS = svc("db", {"type": "ClusterIP", "clusterIP": "None", "selector": {"app": "db"}})
NODEPORT = svc("np", {"type": "NodePort", "clusterIP": "10.0.0.6", "ports": [{"nodePort": 30080}]})
NODE_IPS = svc(  # headless, published as its pods' node addresses: needs the Nodes too
    "db",
    {"type": "ClusterIP", "clusterIP": "None", "selector": {"app": "db"}},
    {"external-dns.alpha.kubernetes.io/endpoints-type": "NodeExternalIP", HOST: "nip.example.org"},
)
SLICE = {
    "kind": "EndpointSlice",
    "metadata": {"name": "db-1", "namespace": "default", "labels": {"kubernetes.io/service-name": "db"}},
    "endpoints": [
        {
            "addresses": ["10.1.0.7"],
            "conditions": {"ready": True},
            "targetRef": {"kind": "Pod", "name": "db-0"},
        }
    ],
}
POD = {
    "kind": "Pod",
    "metadata": {"name": "db-0", "namespace": "default", "labels": {"app": "db"}},
    "spec": {"nodeName": "n1", "hostname": "db-0"},
    "status": {"phase": "Running", "hostIP": "192.0.2.1", "podIP": "10.1.0.7"},
}
NODE = {
    "kind": "Node",
    "metadata": {"name": "n1"},
    "spec": {},
    "status": {"addresses": [{"type": "ExternalIP", "address": "198.51.100.1"}]},
}


class RecordingKube:
    """Lists from a fixed set of objects and remembers every LIST asked for."""

    def __init__(self, objects: list[dict[str, Any]]) -> None:
        self.objects = objects
        self.lists: list[tuple[str, str]] = []

    def list(
        self, kind: str, namespace: str = "", label_selector: str = ""
    ) -> tuple[list[dict[str, Any]], str]:
        self.lists.append((kind, label_selector))
        found = [o for o in self.objects if o["kind"] == kind]
        if label_selector:
            found = [o for o in found if label_selector in (o["metadata"].get("labels") or {})]
        return found, "1"


@pytest.mark.parametrize(
    ("services", "listed"),
    [
        ([LB], ["Service", "Ingress"]),
        ([LB, HEADLESS], ["Service", "Ingress", "EndpointSlice", "Pod"]),
        ([LB, NODEPORT], ["Service", "Ingress", "EndpointSlice", "Pod", "Node"]),
        ([NODE_IPS], ["Service", "Ingress", "EndpointSlice", "Pod", "Node"]),
    ],
)
def test_only_what_some_service_needs_is_listed(services: list[dict[str, Any]], listed: list[str]) -> None:
    kube = RecordingKube([*services, SLICE, POD, NODE])
    cfg = SourceConfig()
    cluster = read_all(kube, ("service", "ingress"), cfg)  # type: ignore[arg-type]
    assert [kind for kind, _ in kube.lists] == listed
    assert all(sel == "kubernetes.io/service-name" for kind, sel in kube.lists if kind == "EndpointSlice")
    # ... and the records are those of reading everything
    everything = Cluster.from_objects([*services, SLICE, POD, NODE])
    assert collect(cluster, cfg).endpoints == collect(everything, cfg).endpoints
    assert collect(cluster, cfg).endpoints  # the cases do produce records
