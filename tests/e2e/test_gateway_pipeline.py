"""Gateway API routes and DNSEndpoints through the whole pipeline, on the real kube-apiserver, Redis and etcd.

The CRDs (tests/crds/gateway-api.yaml, deploy/crds/dnsendpoints.yaml) are installed once for the
session with `kubectl apply` and never deleted: other tests share the API server. The first test
has an API server of its own, to start its emitter before the CRDs exist and install them later.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from adapters.kube_api import RESOURCES, Kube, api_client
from tests.e2e.crds import crds_installed, ensure_crds, install_crds
from tests.e2e.pipeline import ROOT, Pipeline, make_pipeline
from tests.e2e.test_pipeline import namespace
from tests.e2e.test_zone_guard import error_events
from tools import testenv

SOURCES = "gateway-httproute crd"


@pytest.fixture
def crds(admin: Kube, kubeconfig: Path, tmp_path: Path) -> None:
    ensure_crds(admin, kubeconfig, tmp_path)


@pytest.fixture
def pipeline(redis_url: str, etcd_url: str, kubeconfig: Path, tmp_path: Path) -> Iterator[Pipeline]:
    """Routes and DNSEndpoints; discovery every second; no beat unless a test starts one."""
    p = make_pipeline(
        redis_url, etcd_url, kubeconfig, tmp_path, EXTERNAL_DNS_SOURCE=SOURCES, EXTDNS_DISCOVERY_INTERVAL="1"
    )
    try:
        yield p
    finally:
        p.stop()


# ---------------------------------------------------------------- objects


def create(kube: Kube, kind: str, ns: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    r = RESOURCES[kind]
    body = {
        "apiVersion": r.api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }
    return kube.request("POST", r.path(ns), body)


def set_status(kube: Kube, kind: str, ns: str, name: str, status: dict[str, Any]) -> None:
    r = RESOURCES[kind]
    for _ in range(10):
        obj = kube.request("GET", r.path(ns, name))
        obj["status"] = status
        try:
            kube.request("PUT", r.path(ns, name) + "/status", obj)
            return
        except ApiException as e:
            if e.status != 409:
                raise
    raise AssertionError(f"could not set the status of {kind} {ns}/{name}")


def gateway(kube: Kube, ns: str, name: str, *ips: str, selector: dict[str, str] | None = None) -> None:
    listener: dict[str, Any] = {"name": "http", "protocol": "HTTP", "port": 80}
    if selector is not None:
        listener["allowedRoutes"] = {
            "namespaces": {"from": "Selector", "selector": {"matchLabels": selector}}
        }
    create(kube, "Gateway", ns, name, {"gatewayClassName": "test", "listeners": [listener]})
    set_gateway_ips(kube, ns, name, *ips)


def set_gateway_ips(kube: Kube, ns: str, name: str, *ips: str) -> None:
    set_status(kube, "Gateway", ns, name, {"addresses": [{"type": "IPAddress", "value": ip} for ip in ips]})


def http_route(kube: Kube, ns: str, name: str, host: str, gw_ns: str, gw: str) -> None:
    parent = {"name": gw, "namespace": gw_ns}
    create(kube, "HTTPRoute", ns, name, {"parentRefs": [parent], "hostnames": [host]})
    accepted = {
        "type": "Accepted", "status": "True", "reason": "Accepted", "message": "",
        "lastTransitionTime": "2024-01-01T00:00:00Z", "observedGeneration": 1,
    }  # fmt: skip
    set_status(kube, "HTTPRoute", ns, name, {
        "parents": [{"parentRef": parent, "controllerName": "example.org/gw", "conditions": [accepted]}]
    })  # fmt: skip


def dns_endpoint(kube: Kube, ns: str, name: str, endpoints: list[dict[str, Any]]) -> None:
    create(kube, "DNSEndpoint", ns, name, {"endpoints": endpoints})


def observed(kube: Kube, ns: str, name: str) -> tuple[int, Any]:
    obj = kube.request("GET", RESOURCES["DNSEndpoint"].path(ns, name))
    return int(obj["metadata"]["generation"]), (obj.get("status") or {}).get("observedGeneration")


# ---------------------------------------------------------------- tests


def test_routes_of_crds_installed_after_the_emitter_started_are_published_without_a_resync(
    redis_url: str, etcd_url: str, tmp_path: Path
) -> None:
    """On an API server of its own, so the CRDs are surely absent when the emitter starts."""
    with testenv.stack() as private:
        kubeconfig = private.start_kube()
        api = api_client(str(kubeconfig))
        admin = Kube(api)
        p = make_pipeline(redis_url, etcd_url, kubeconfig, tmp_path,
                          EXTERNAL_DNS_SOURCE=SOURCES, EXTDNS_DISCOVERY_INTERVAL="1")  # fmt: skip
        try:
            p.start_worker()
            assert not crds_installed(admin)
            p.start_emitter()  # no beat: only events can write records in this test
            assert "HTTPRoute is not served" in p.log("emitter")
            install_crds(admin, kubeconfig, tmp_path)
            p.wait(
                "the emitter to watch HTTPRoutes", lambda: "HTTPRoute is served now" in p.log("emitter"), 15
            )
            ns = namespace(p.core)
            host = f"web.{p.domain}"
            gateway(admin, ns, "gw", "203.0.113.40")
            http_route(admin, ns, "web", host, ns, "gw")
            p.wait("the route's A record", lambda: p.hosts(host) == ["203.0.113.40"], 15)
            texts = [v["text"] for k, v in p.records().items() if "/a-web/" in k]
            assert texts and f"external-dns/resource=httproute/{ns}/web" in texts[0]
            assert p.resyncs("received") == 1  # the new leader's, done before anything was created
        finally:
            p.stop()
            api.close()


def test_a_gateway_address_change_moves_its_routes(pipeline: Pipeline, admin: Kube, crds: None) -> None:
    p = pipeline
    p.start_worker()
    p.start_emitter()
    ns, other = namespace(p.core), namespace(p.core)
    one, two = f"one.{p.domain}", f"two.{p.domain}"
    gateway(admin, ns, "gw", "198.51.100.1")
    http_route(admin, ns, "one", one, ns, "gw")
    http_route(admin, other, "two", two, ns, "gw")  # another namespace, the Gateway allows only its own
    p.wait("the first route's record", lambda: p.hosts(one) == ["198.51.100.1"])
    set_gateway_ips(admin, ns, "gw", "198.51.100.2", "198.51.100.3")
    p.wait("the new Gateway addresses", lambda: p.hosts(one) == ["198.51.100.2", "198.51.100.3"])
    assert p.hosts(two) == []
    # A listener admitting namespaces by label: labelling the route's namespace publishes it.
    gateway(admin, ns, "sel", "198.51.100.9", selector={"dns": "yes"})
    http_route(admin, other, "three", f"three.{p.domain}", ns, "sel")
    time.sleep(1)
    assert p.hosts(f"three.{p.domain}") == []
    p.core.patch_namespace(other, {"metadata": {"labels": {"dns": "yes"}}})
    p.wait(
        "the route admitted by its namespace's label",
        lambda: p.hosts(f"three.{p.domain}") == ["198.51.100.9"],
    )
    assert p.resyncs("received") == 1  # the new leader's, done before anything was created


def test_a_dns_endpoint_gets_records_its_observed_generation_and_an_event_for_what_cannot_be_stored(
    pipeline: Pipeline, admin: Kube, crds: None
) -> None:
    p = pipeline
    p.start_worker()
    p.start_emitter()
    ns = namespace(p.core)
    a, mx = f"a.{p.domain}", f"mail.{p.domain}"
    dns_endpoint(admin, ns, "records", [
        {"dnsName": a, "recordType": "A", "targets": ["192.0.2.10"]},
        {"dnsName": mx, "recordType": "MX", "targets": [f"10 {mx}"]},
    ])  # fmt: skip
    p.wait("the A record", lambda: p.hosts(a) == ["192.0.2.10"])
    texts = [v["text"] for k, v in p.records().items() if "/a-a/" in k]
    assert texts and f"external-dns/resource=crd/{ns}/records" in texts[0]
    p.wait("the RecordError Event", lambda: any("MX" in n for n in error_events(p, ns, "records")))
    p.wait("status.observedGeneration 1", lambda: observed(admin, ns, "records") == (1, 1))
    obj = admin.request("GET", RESOURCES["DNSEndpoint"].path(ns, "records"))
    obj["spec"]["endpoints"][0]["targets"] = ["192.0.2.11"]
    admin.request("PUT", RESOURCES["DNSEndpoint"].path(ns, "records"), obj)
    p.wait("the new target", lambda: p.hosts(a) == ["192.0.2.11"])
    p.wait("status.observedGeneration 2", lambda: observed(admin, ns, "records") == (2, 2))
    assert p.resyncs("received") == 1  # the new leader's, done before anything was created


def test_the_resync_alone_converges_routes_and_dns_endpoints(
    pipeline: Pipeline, admin: Kube, crds: None
) -> None:
    p = pipeline
    ns = namespace(p.core)
    route, record = f"route.{p.domain}", f"record.{p.domain}"
    gateway(admin, ns, "gw", "203.0.113.50")
    http_route(admin, ns, "route", route, ns, "gw")
    dns_endpoint(admin, ns, "record", [{"dnsName": record, "recordType": "A", "targets": ["192.0.2.50"]}])
    p.start_worker()
    p.start_beat()  # no emitter: nobody sees an event
    p.wait(
        "the resync's records",
        lambda: p.hosts(route) == ["203.0.113.50"] and p.hosts(record) == ["192.0.2.50"],
        30,
    )
    p.wait("status.observedGeneration from the resync", lambda: observed(admin, ns, "record") == (1, 1), 30)
    set_gateway_ips(admin, ns, "gw", "203.0.113.51")
    p.wait("the resync to follow the Gateway", lambda: p.hosts(route) == ["203.0.113.51"], 30)
    create(admin, "HTTPRoute", ns, "bare", {"hostnames": [f"bare.{p.domain}"]})  # no parent: no records
    admin.request("DELETE", RESOURCES["DNSEndpoint"].path(ns, "record"))
    p.wait("the resync to remove the DNSEndpoint's record", lambda: p.hosts(record) == [], 30)
    assert p.hosts(route) == ["203.0.113.51"]


def test_a_route_on_a_listener_set_follows_the_listener_set_and_its_gateway(
    redis_url: str, etcd_url: str, kubeconfig: Path, tmp_path: Path, admin: Kube, crds: None
) -> None:
    """--gateway-listener-sets: a route attached to a ListenerSet is answered from events alone."""
    p = make_pipeline(redis_url, etcd_url, kubeconfig, tmp_path, EXTERNAL_DNS_SOURCE=SOURCES,
                      EXTDNS_DISCOVERY_INTERVAL="1", EXTERNAL_DNS_GATEWAY_LISTENER_SETS="true")  # fmt: skip
    try:
        p.start_worker()
        p.start_emitter()  # no beat: only events can write records in this test
        infra, team = namespace(p.core), namespace(p.core)
        host = f"app.ls.{p.domain}"
        create(admin, "Gateway", infra, "gw", {
            "gatewayClassName": "test", "allowedListeners": {"namespaces": {"from": "All"}},
            "listeners": [{"name": "http", "protocol": "HTTP", "port": 80}],
        })  # fmt: skip
        set_gateway_ips(admin, infra, "gw", "198.51.100.20")
        listener = {"name": "web", "protocol": "HTTP", "port": 80, "hostname": f"*.ls.{p.domain}"}
        create(admin, "ListenerSet", team, "ls",
               {"parentRef": {"name": "gw", "namespace": infra}, "listeners": [listener]})  # fmt: skip
        set_listener_set_accepted(admin, team, "ls", True)
        parent = {"group": "gateway.networking.k8s.io", "kind": "ListenerSet", "name": "ls"}
        create(admin, "HTTPRoute", team, "web", {"parentRefs": [parent], "hostnames": [host]})
        set_status(admin, "HTTPRoute", team, "web", {
            "parents": [{"parentRef": parent, "controllerName": "example.org/gw", "conditions": [ACCEPTED]}]
        })  # fmt: skip
        p.wait("the record of the route on the ListenerSet", lambda: p.hosts(host) == ["198.51.100.20"], 15)
        texts = [v["text"] for k, v in p.records().items() if "/a-app/" in k]
        assert texts and f"external-dns/resource=httproute/{team}/web" in texts[0]
        # the parent Gateway's addresses: a Gateway event reaches the route through its ListenerSet
        set_gateway_ips(admin, infra, "gw", "198.51.100.21")
        p.wait("the new Gateway address", lambda: p.hosts(host) == ["198.51.100.21"], 15)
        # the ListenerSet's target annotation
        path = RESOURCES["ListenerSet"].path(team, "ls")
        obj = admin.request("GET", path)
        obj["metadata"]["annotations"] = {TARGET: "198.51.100.22"}
        admin.request("PUT", path, obj)
        p.wait("the ListenerSet's target", lambda: p.hosts(host) == ["198.51.100.22"], 15)
        # no longer accepted: the route has no records
        set_listener_set_accepted(admin, team, "ls", False)
        p.wait("the records gone with the ListenerSet's acceptance", lambda: p.hosts(host) == [], 15)
        assert p.resyncs("received") == 1  # the new leader's, done before anything was created
    finally:
        p.stop()


ACCEPTED = {
    "type": "Accepted", "status": "True", "reason": "Accepted", "message": "",
    "lastTransitionTime": "2024-01-01T00:00:00Z", "observedGeneration": 1,
}  # fmt: skip
TARGET = "external-dns.kubernetes.io/target"


def set_listener_set_accepted(kube: Kube, ns: str, name: str, accepted: bool) -> None:
    condition = dict(ACCEPTED, status="True" if accepted else "False")
    set_status(kube, "ListenerSet", ns, name, {
        "conditions": [condition], "listeners": [{"name": "web", "conditions": [ACCEPTED]}],
    })  # fmt: skip


def test_the_deploy_rbac_grants_the_new_kinds_and_no_more(
    kube: client.ApiClient, kubeconfig: Path, tmp_path: Path
) -> None:
    """The ServiceAccount of deploy/ reads routes, Gateways, Namespaces and DNSEndpoints, writes only DNSEndpoint status."""
    from tests.e2e.test_deploy import RBAC_KINDS, SA_GROUPS, SA_USER, access

    kubectl = testenv.binary("kubectl")
    rendered = subprocess.run(
        [str(kubectl), "kustomize", str(ROOT / "deploy")], capture_output=True, text=True, timeout=120
    )
    assert rendered.returncode == 0, rendered.stderr
    rbac = [d for d in yaml.safe_load_all(rendered.stdout) if d and d["kind"] in RBAC_KINDS]
    out = subprocess.run(
        [str(kubectl), f"--kubeconfig={kubeconfig}", f"--cache-dir={tmp_path / 'kube-cache'}", "apply", "-f", "-"],
        input="\n---\n".join(yaml.safe_dump(d) for d in rbac), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    group = "gateway.networking.k8s.io"
    for resource in (
        "gateways",
        "listenersets",
        "httproutes",
        "grpcroutes",
        "tlsroutes",
        "tcproutes",
        "udproutes",
    ):
        for verb in ("get", "list", "watch"):
            assert access(kube, verb, resource, group, "team-a"), (verb, resource)
        assert not access(kube, "update", resource, group, "team-a")
        assert not access(kube, "update", resource, group, "team-a", subresource="status")
    for verb in ("get", "list", "watch"):
        assert access(kube, verb, "namespaces", "", "")
        assert access(kube, verb, "dnsendpoints", "externaldns.k8s.io", "team-a")
    for verb in ("update", "patch"):
        assert access(kube, verb, "dnsendpoints", "externaldns.k8s.io", "team-a", subresource="status")
    for verb in ("create", "update", "patch", "delete"):
        assert not access(kube, verb, "dnsendpoints", "externaldns.k8s.io", "team-a")
    assert not access(kube, "patch", "namespaces", "", "")
    # discovery is a non-resource GET the built-in system:discovery role grants
    review = client.V1SubjectAccessReview(spec=client.V1SubjectAccessReviewSpec(
        user=SA_USER, groups=SA_GROUPS,
        non_resource_attributes=client.V1NonResourceAttributes(path=f"/apis/{group}/v1", verb="get"),
    ))  # fmt: skip
    assert client.AuthorizationV1Api(kube).create_subject_access_review(review).status.allowed
