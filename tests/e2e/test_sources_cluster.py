"""The sources read from a real API server give what `extdns plan --from-manifests` gives for the same objects."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from adapters.kube_api import RESOURCES, Kube
from adapters.kube_cluster import read_all
from extdns.sources import SourceConfig, endpoints_to_json, load_manifests
from extdns.sources.collect import collect

DATA = Path(__file__).resolve().parents[1] / "unit" / "data" / "sources" / "cluster.yaml"
ROOT = Path(__file__).resolve().parents[2]


def _for_a_real_server(obj: dict[str, Any], namespaces: dict[str, str]) -> dict[str, Any]:
    """What the API server needs that a hand-written manifest may leave out, in this test's namespaces."""
    meta = obj["metadata"]
    if RESOURCES[obj["kind"]].namespaced:
        meta["namespace"] = namespaces[meta.get("namespace", "default")]
    for ep in obj.get("endpoints") or []:
        if ep.get("targetRef", {}).get("namespace"):
            ep["targetRef"]["namespace"] = namespaces[ep["targetRef"]["namespace"]]
    spec = obj.get("spec") or {}
    if obj["kind"] == "Service":
        if spec.get("clusterIP") != "None":
            spec.pop("clusterIP", None)  # let the server allocate: fixed IPs may be taken by other tests
        for port in spec.get("ports") or []:
            port.pop("nodePort", None)
        if spec.get("type") != "ExternalName":
            spec.setdefault("ports", [{"port": 80}])
    if obj["kind"] == "Pod":
        spec.setdefault("containers", [{"name": "main", "image": "registry.invalid/app:1"}])
    return obj


def create(kube: Kube, obj: dict[str, Any]) -> dict[str, Any]:
    r = RESOURCES[obj["kind"]]
    ns = obj["metadata"].get("namespace", "")
    status = obj.pop("status", None)
    try:
        made = kube.request("POST", r.path(ns), obj)
    except ApiException as e:
        if e.status != 409 or r.namespaced:  # cluster-scoped Nodes may exist from an earlier run
            raise
        made = kube.request("GET", r.path(ns, obj["metadata"]["name"]))
    if status:
        made = kube.request(
            "PUT", r.path(ns, obj["metadata"]["name"]) + "/status", {**made, "status": status}
        )
    return made


def test_cluster_and_manifests_agree(kubeconfig: Path, kube: client.ApiClient, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    namespaces = {"prod": f"prod-{tag}", "default": f"default-{tag}"}
    core = client.CoreV1Api(kube)
    for ns in namespaces.values():
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    k = Kube(kube)
    objects = [_for_a_real_server(o, namespaces) for o in load_manifests(DATA.read_text(), str(DATA))]
    made = [create(k, o) for o in objects]

    # What the controller sees, reading the cluster (scoped to one of the namespaces at a time).
    from_cluster = []
    for ns in namespaces.values():
        cfg = SourceConfig(namespace=ns)
        from_cluster += collect(read_all(k, ("service", "ingress"), cfg), cfg).endpoints
    # The same objects as `kubectl get -o yaml` would print them, fed to `extdns plan --from-manifests`.
    manifest = tmp_path / "objects.yaml"
    for o in made:
        o["kind"] = o.get("kind") or "Node"
    manifest.write_text(yaml.safe_dump_all(made))
    plans = []
    for ns in namespaces.values():
        out = subprocess.run(
            [sys.executable, "-m", "process.cli", "plan", "--from-manifests", str(manifest), "-o", "json",
             "--policy", "sync", "--namespace", ns],
            cwd=ROOT, check=True, capture_output=True, text=True,
        )  # fmt: skip
        plans += json.loads(out.stdout)["endpoints"]
    from_manifests = sorted(plans, key=lambda e: (e["dnsName"], e["recordType"]))
    assert json.loads(endpoints_to_json(from_cluster))["endpoints"] == from_manifests

    by_name = {(e["dnsName"], e["recordType"]): e for e in from_manifests}
    assert by_name["shop.example.org", "A"]["targets"] == ["203.0.113.10"]
    assert by_name["shop.example.org", "AAAA"]["targets"] == ["2001:db8::10"]
    assert by_name["shop.example.org", "A"]["recordTTL"] == 300
    assert by_name["db.example.org", "A"]["targets"] == ["10.244.1.5"]  # only the ready endpoint
    assert by_name["legacy.example.org", "CNAME"]["targets"] == ["legacy.example.net"]
    assert by_name["www.example.org", "A"]["targets"] == ["203.0.113.50"]
    assert (
        by_name["broken.example.org", "CNAME"]["labels"]["resource"]
        == f"service/{namespaces['default']}/broken"
    )
    api_ip = core.read_namespaced_service("api", namespaces["default"]).spec.cluster_ip
    assert by_name["api.internal.example.org", "A"]["targets"] == [api_ip]
