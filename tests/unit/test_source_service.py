"""The service source: every row of the reference's Service-type table, plus flags and annotations."""

from __future__ import annotations

from typing import Any

import pytest

from extdns.sources import Cluster, SourceConfig, service_endpoints

A = "external-dns.kubernetes.io/"
ALPHA = "external-dns.alpha.kubernetes.io/"
Records = set[tuple[str, str, tuple[str, ...]]]


def service(
    type_: str = "LoadBalancer",
    annotations: dict[str, str] | None = None,
    name: str = "web",
    spec: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": "ns",
            "annotations": annotations or {},
            "labels": labels or {},
        },
        "spec": {"type": type_, "clusterIP": "10.0.0.10", "selector": {"app": "web"}, **(spec or {})},
        "status": status or {},
    }


def lb_status(*entries: dict[str, str]) -> dict[str, Any]:
    return {"loadBalancer": {"ingress": list(entries)}}


def pod(
    name: str,
    node: str = "n1",
    hostname: str = "",
    annotations: dict[str, str] | None = None,
    ready: bool = True,
    phase: str = "Running",
    host_ip: str = "192.168.0.1",
    labels: dict[str, str] | None = None,
    deleting: bool = False,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": "ns",
        "labels": {"app": "web"} if labels is None else labels,
        "annotations": annotations or {},
    }
    if deleting:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    spec: dict[str, Any] = {"nodeName": node}
    if hostname:
        spec["hostname"] = hostname
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    return {
        "kind": "Pod",
        "metadata": metadata,
        "spec": spec,
        "status": {"phase": phase, "hostIP": host_ip, "conditions": conditions},
    }


def slice_(*endpoints: dict[str, Any], service_name: str = "web") -> dict[str, Any]:
    return {
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{service_name}-abc",
            "namespace": "ns",
            "labels": {"kubernetes.io/service-name": service_name},
        },
        "addressType": "IPv4",
        "endpoints": list(endpoints),
    }


def slice_endpoint(
    pod_name: str, *addresses: str, ready: bool | None = True, kind: str = "Pod"
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "addresses": list(addresses),
        "targetRef": {"kind": kind, "name": pod_name, "namespace": "ns"},
    }
    if ready is not None:
        entry["conditions"] = {"ready": ready}
    return entry


def node(
    name: str, external: str = "", internal: str = "", unschedulable: bool = False, internal6: str = ""
) -> dict[str, Any]:
    addresses = [{"type": "Hostname", "address": name}]
    addresses += [{"type": "ExternalIP", "address": external}] if external else []
    addresses += [{"type": "InternalIP", "address": internal}] if internal else []
    addresses += [{"type": "InternalIP", "address": internal6}] if internal6 else []
    return {
        "kind": "Node",
        "metadata": {"name": name},
        "spec": {"unschedulable": unschedulable},
        "status": {"addresses": addresses},
    }


def records(svc: dict[str, Any], cluster: Cluster | None = None, cfg: SourceConfig | None = None) -> Records:
    result = service_endpoints(svc, cluster or Cluster(), cfg or SourceConfig())
    assert result.rejections == []
    return {(e.dns_name, e.record_type, e.targets) for e in result.endpoints}


HOST = {A + "hostname": "web.example.org"}
INTERNAL = {A + "internal-hostname": "web.internal.org"}

# --- LoadBalancer -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "status", "expected"),
    [
        ({}, lb_status({"ip": "1.2.3.4"}), {("web.example.org", "A", ("1.2.3.4",))}),
        (
            {},
            lb_status({"ip": "1.2.3.4"}, {"ip": "1.2.3.5"}),
            {("web.example.org", "A", ("1.2.3.4", "1.2.3.5"))},
        ),
        ({}, lb_status({"hostname": "lb.aws.com"}), {("web.example.org", "CNAME", ("lb.aws.com",))}),
        (
            {},
            lb_status({"ip": "1.2.3.4", "hostname": "lb.aws.com"}, {"ip": "2001:db8::1"}),
            {
                ("web.example.org", "A", ("1.2.3.4",)),
                ("web.example.org", "AAAA", ("2001:db8::1",)),
                ("web.example.org", "CNAME", ("lb.aws.com",)),
            },
        ),
        (
            {"externalIPs": ["8.8.8.8"]},
            lb_status({"ip": "1.2.3.4"}),
            {("web.example.org", "A", ("8.8.8.8",))},
        ),
        ({}, {}, set()),
    ],
    ids=["ip", "two-ips", "hostname-cname", "ip-ipv6-hostname", "externalIPs-win", "no-status-yet"],
)
def test_load_balancer_public(spec: dict[str, Any], status: dict[str, Any], expected: Records) -> None:
    assert records(service("LoadBalancer", HOST, spec=spec, status=status)) == expected


def test_load_balancer_internal_hostname_uses_cluster_ip() -> None:
    svc = service("LoadBalancer", {**HOST, **INTERNAL}, status=lb_status({"ip": "1.2.3.4"}))
    assert records(svc) == {("web.example.org", "A", ("1.2.3.4",)), ("web.internal.org", "A", ("10.0.0.10",))}


def test_load_balancer_internal_hostname_without_cluster_ip() -> None:
    assert records(service("LoadBalancer", INTERNAL, spec={"clusterIP": "None"})) == set()


def test_resolve_load_balancer_hostname_is_refused() -> None:
    with pytest.raises(ValueError, match="--resolve-service-load-balancer-hostname"):
        SourceConfig(resolve_service_load_balancer_hostname=True)


# --- ClusterIP --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("annotations", "publish_internal", "expected"),
    [
        (HOST, False, set()),
        (HOST, True, {("web.example.org", "A", ("10.0.0.10",))}),
        (INTERNAL, False, {("web.internal.org", "A", ("10.0.0.10",))}),
        (INTERNAL, True, {("web.internal.org", "A", ("10.0.0.10",))}),
        ({}, True, set()),
    ],
    ids=[
        "hostname-not-published",
        "publish-internal",
        "internal-hostname",
        "internal-and-flag",
        "no-annotation",
    ],
)
def test_cluster_ip(annotations: dict[str, str], publish_internal: bool, expected: Records) -> None:
    cfg = SourceConfig(publish_internal_services=publish_internal)
    assert records(service("ClusterIP", annotations), cfg=cfg) == expected


def test_cluster_ip_is_the_default_type() -> None:
    svc = service("ClusterIP", INTERNAL)
    del svc["spec"]["type"]
    assert records(svc) == {("web.internal.org", "A", ("10.0.0.10",))}


# --- headless ---------------------------------------------------------------------------------------------


def headless(annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return service("ClusterIP", {**HOST, **(annotations or {})}, spec={"clusterIP": "None", **spec})


PODS = (pod("p1", hostname="one", host_ip="192.168.0.1"), pod("p2", node="n2", host_ip="192.168.0.2"))


def test_headless_ready_endpoints_and_pod_hostnames() -> None:
    cluster = Cluster(
        endpoint_slices=(
            slice_(slice_endpoint("p1", "10.1.0.1"), slice_endpoint("p2", "10.1.0.2", ready=None)),
        ),
        pods=PODS,
    )
    assert records(headless(), cluster) == {
        ("web.example.org", "A", ("10.1.0.1", "10.1.0.2")),
        ("one.web.example.org", "A", ("10.1.0.1",)),
    }


@pytest.mark.parametrize(
    ("publish_not_ready", "always_flag", "expected_targets"),
    [
        (False, False, ("10.1.0.1",)),
        (True, False, ("10.1.0.1", "10.1.0.2")),
        (False, True, ("10.1.0.1", "10.1.0.2")),
    ],
)
def test_headless_not_ready(
    publish_not_ready: bool, always_flag: bool, expected_targets: tuple[str, ...]
) -> None:
    cluster = Cluster(
        endpoint_slices=(
            slice_(slice_endpoint("p1", "10.1.0.1"), slice_endpoint("p2", "10.1.0.2", ready=False)),
        ),
        pods=PODS,
    )
    cfg = SourceConfig(always_publish_not_ready_addresses=always_flag)
    found = records(headless(publishNotReadyAddresses=publish_not_ready), cluster, cfg)
    assert ("web.example.org", "A", expected_targets) in found


@pytest.mark.parametrize(
    ("annotations", "cfg", "pod_annotations", "expected"),
    [
        ({}, SourceConfig(), {}, ("10.1.0.1",)),
        ({}, SourceConfig(), {A + "target": "5.5.5.5"}, ("5.5.5.5",)),
        ({}, SourceConfig(), {ALPHA + "target": "5.5.5.5"}, ("5.5.5.5",)),
        ({A + "endpoints-type": "HostIP"}, SourceConfig(), {}, ("192.168.0.1",)),
        ({}, SourceConfig(publish_host_ip=True), {}, ("192.168.0.1",)),
        ({A + "endpoints-type": "NodeExternalIP"}, SourceConfig(), {}, ("203.0.113.1",)),
        ({A + "endpoints-type": "NodeExternalIP"}, SourceConfig(), {A + "target": "5.5.5.5"}, ("5.5.5.5",)),
        (
            {A + "endpoints-type": "NodeExternalIP"},
            SourceConfig(expose_internal_ipv6=True),
            {},
            ("203.0.113.1", "fd00::1"),
        ),
    ],
    ids=[
        "slice-address",
        "pod-target",
        "pod-target-alpha",
        "host-ip",
        "publish-host-ip",
        "node-external-ip",
        "pod-target-beats-node",
        "node-external-ip-v6",
    ],
)
def test_headless_pod_targets(
    annotations: dict[str, str], cfg: SourceConfig, pod_annotations: dict[str, str], expected: tuple[str, ...]
) -> None:
    cluster = Cluster(
        endpoint_slices=(slice_(slice_endpoint("p1", "10.1.0.1")),),
        pods=(pod("p1", annotations=pod_annotations),),
        nodes=(node("n1", external="203.0.113.1", internal="10.9.0.1", internal6="fd00::1"),),
    )
    found = records(headless(annotations), cluster, cfg)
    targets = tuple(sorted(t for name, _, ts in found if name == "web.example.org" for t in ts))
    assert targets == expected


def test_headless_skips_foreign_and_unknown_targets() -> None:
    cluster = Cluster(
        endpoint_slices=(
            slice_(
                slice_endpoint("p1", "10.1.0.1"),
                slice_endpoint("gone", "10.1.0.9"),
                slice_endpoint("p1", "10.1.0.8", kind="Node"),
                slice_endpoint("other", "10.1.0.7"),
                {"addresses": ["10.1.0.6"]},
            ),
            slice_(slice_endpoint("p2", "10.1.0.2"), service_name="other-svc"),
        ),
        pods=(pod("p1"), pod("p2"), pod("other", labels={"app": "db"})),
    )
    assert records(headless(), cluster) == {("web.example.org", "A", ("10.1.0.1",))}


def test_headless_dual_stack_and_duplicates() -> None:
    v6 = slice_(slice_endpoint("p1", "fd00::10"))
    v6["metadata"]["name"] = "web-v6"
    cluster = Cluster(
        endpoint_slices=(slice_(slice_endpoint("p1", "10.1.0.1"), slice_endpoint("p1", "10.1.0.1")), v6),
        pods=(pod("p1"),),
    )
    assert records(headless(), cluster) == {
        ("web.example.org", "A", ("10.1.0.1",)),
        ("web.example.org", "AAAA", ("fd00::10",)),
    }


def test_headless_ttl_and_group_apply_to_pod_records() -> None:
    cluster = Cluster(
        endpoint_slices=(slice_(slice_endpoint("p1", "10.1.0.1")),), pods=(pod("p1", hostname="one"),)
    )
    svc = headless({A + "ttl": "30", A + "coredns-group": "g"})
    result = service_endpoints(svc, cluster, SourceConfig())
    assert {(e.dns_name, e.ttl, e.group) for e in result.endpoints} == {
        ("web.example.org", 30, "g"),
        ("one.web.example.org", 30, "g"),
    }


def test_headless_service_target_annotation_replaces_pod_records() -> None:
    cluster = Cluster(
        endpoint_slices=(slice_(slice_endpoint("p1", "10.1.0.1")),), pods=(pod("p1", hostname="one"),)
    )
    assert records(headless({A + "target": "7.7.7.7"}), cluster) == {("web.example.org", "A", ("7.7.7.7",))}


# --- NodePort ---------------------------------------------------------------------------------------------

NODES = (
    node("n1", external="203.0.113.1", internal="10.9.0.1"),
    node("n2", external="203.0.113.2", internal="10.9.0.2", internal6="fd00::2"),
    node("n3", external="203.0.113.3", internal="10.9.0.3", unschedulable=True),
)
NODE_PORT_SPEC = {
    "ports": [
        {"port": 80, "nodePort": 30080, "protocol": "TCP"},
        {"port": 53, "nodePort": 30053, "protocol": "UDP"},
        {"port": 9},
    ]
}


def node_port(annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return service("NodePort", {**HOST, **(annotations or {})}, spec={**NODE_PORT_SPEC, **spec})


def address_records(found: Records) -> Records:
    return {r for r in found if r[1] != "SRV"}


@pytest.mark.parametrize(
    ("annotations", "nodes", "cfg", "expected"),
    [
        ({}, NODES, SourceConfig(), {("web.example.org", "A", ("203.0.113.1", "203.0.113.2"))}),
        (
            {},
            NODES,
            SourceConfig(exclude_unschedulable=False),
            {("web.example.org", "A", ("203.0.113.1", "203.0.113.2", "203.0.113.3"))},
        ),
        (
            {A + "access": "public"},
            NODES,
            SourceConfig(),
            {("web.example.org", "A", ("203.0.113.1", "203.0.113.2"))},
        ),
        (
            {A + "access": "private"},
            NODES,
            SourceConfig(),
            {("web.example.org", "A", ("10.9.0.1", "10.9.0.2")), ("web.example.org", "AAAA", ("fd00::2",))},
        ),
        ({}, (node("n1", internal="10.9.0.1"),), SourceConfig(), {("web.example.org", "A", ("10.9.0.1",))}),
        ({A + "access": "public"}, (node("n1", internal="10.9.0.1"),), SourceConfig(), set()),
        (
            {},
            NODES,
            SourceConfig(expose_internal_ipv6=True),
            {
                ("web.example.org", "A", ("203.0.113.1", "203.0.113.2")),
                ("web.example.org", "AAAA", ("fd00::2",)),
            },
        ),
    ],
    ids=[
        "external-default",
        "include-unschedulable",
        "public",
        "private",
        "internal-fallback",
        "public-none",
        "expose-ipv6",
    ],
)
def test_node_port_addresses(
    annotations: dict[str, str], nodes: tuple[dict[str, Any], ...], cfg: SourceConfig, expected: Records
) -> None:
    assert address_records(records(node_port(annotations), Cluster(nodes=nodes), cfg)) == expected


def test_node_port_srv_records() -> None:
    found = records(node_port(), Cluster(nodes=NODES))
    assert {r for r in found if r[1] == "SRV"} == {
        ("_web._tcp.web.example.org", "SRV", ("0 50 30080 web.example.org",)),
        ("_web._udp.web.example.org", "SRV", ("0 50 30053 web.example.org",)),
    }


def test_node_port_srv_protocol_defaults_to_tcp() -> None:
    found = records(node_port(ports=[{"port": 80, "nodePort": 31000}]), Cluster())
    assert found == {("_web._tcp.web.example.org", "SRV", ("0 50 31000 web.example.org",))}


@pytest.mark.parametrize(
    ("pods", "expected"),
    [
        ((pod("a", node="n1"), pod("b", node="n2", ready=False)), ("203.0.113.1",)),
        ((pod("a", node="n1", deleting=True), pod("b", node="n2", ready=False)), ("203.0.113.1",)),
        (
            (pod("a", node="n1", ready=False), pod("b", node="n2", ready=False)),
            ("203.0.113.1", "203.0.113.2"),
        ),
        ((pod("a", node="n1", deleting=True), pod("b", node="n2")), ("203.0.113.2",)),
        ((pod("a", node="n3"),), ("203.0.113.3",)),
        ((pod("a", node="n1", phase="Pending"), pod("b", node="nx")), ()),
        ((pod("a", node="n1", labels={"app": "db"}),), ()),
    ],
    ids=[
        "ready-only",
        "ready-terminating",
        "running-not-ready",
        "prefer-not-terminating",
        "local-keeps-cordoned",
        "no-running",
        "selector-mismatch",
    ],
)
def test_node_port_local_traffic_policy(pods: tuple[dict[str, Any], ...], expected: tuple[str, ...]) -> None:
    svc = node_port(externalTrafficPolicy="Local")
    found = address_records(records(svc, Cluster(nodes=NODES, pods=pods)))
    assert found == ({("web.example.org", "A", expected)} if expected else set())


# --- ExternalName -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"externalName": "db.example.net"}, {("web.example.org", "CNAME", ("db.example.net",))}),
        ({"externalName": "db.example.net."}, {("web.example.org", "CNAME", ("db.example.net",))}),
        ({"externalName": "1.2.3.4"}, {("web.example.org", "A", ("1.2.3.4",))}),
        ({"externalName": "2001:db8::5"}, {("web.example.org", "AAAA", ("2001:db8::5",))}),
        (
            {"externalName": "db.example.net", "externalIPs": ["9.9.9.9"]},
            {("web.example.org", "A", ("9.9.9.9",))},
        ),
        ({}, set()),
    ],
)
def test_external_name(spec: dict[str, Any], expected: Records) -> None:
    assert records(service("ExternalName", HOST, spec=spec)) == expected


# --- target annotation, filters, template -----------------------------------------------------------------


@pytest.mark.parametrize("type_", ["LoadBalancer", "ClusterIP", "NodePort", "ExternalName"])
def test_target_annotation_overrides_every_type(type_: str) -> None:
    svc = service(
        type_, {**HOST, ALPHA + "target": "lb.example.net., 4.4.4.4"}, status=lb_status({"ip": "1.2.3.4"})
    )
    assert records(svc, Cluster(nodes=NODES)) == {
        ("web.example.org", "A", ("4.4.4.4",)),
        ("web.example.org", "CNAME", ("lb.example.net",)),
    }


def test_both_prefixes_and_hostname_list() -> None:
    svc = service(
        "LoadBalancer",
        {ALPHA + "hostname": "a.example.org., B.example.org"},
        status=lb_status({"ip": "1.2.3.4"}),
    )
    assert records(svc) == {("a.example.org", "A", ("1.2.3.4",)), ("b.example.org", "A", ("1.2.3.4",))}


@pytest.mark.parametrize(
    ("cfg", "selected"),
    [
        (SourceConfig(), True),
        (SourceConfig(namespace="ns"), True),
        (SourceConfig(namespace="other"), False),
        (SourceConfig(service_type_filter=("LoadBalancer",)), True),
        (SourceConfig(service_type_filter=("NodePort", "ClusterIP")), False),
        (SourceConfig(label_filter="team=blue"), True),
        (SourceConfig(label_filter="team!=blue"), False),
        (SourceConfig(annotation_filter="expose in (yes)"), True),
        (SourceConfig(annotation_filter="!expose"), False),
        (SourceConfig(controller="other-controller"), True),  # no annotation: ours
    ],
)
def test_filters(cfg: SourceConfig, selected: bool) -> None:
    svc = service(
        "LoadBalancer",
        {**HOST, "expose": "yes"},
        status=lb_status({"ip": "1.2.3.4"}),
        labels={"team": "blue"},
    )
    assert bool(records(svc, cfg=cfg)) is selected


@pytest.mark.parametrize(
    ("controller", "selected"),
    [("dns-controller", True), ("someone-else", False), ("", False)],
)
def test_controller_annotation(controller: str, selected: bool) -> None:
    for prefix in (A, ALPHA):
        svc = service(
            "LoadBalancer", {**HOST, prefix + "controller": controller}, status=lb_status({"ip": "1.2.3.4"})
        )
        assert bool(records(svc)) is selected
    cfg = SourceConfig(fqdn_templates=("{{.Name}}.example.org",))
    svc = service("LoadBalancer", {A + "controller": "someone-else"}, status=lb_status({"ip": "1.2.3.4"}))
    assert records(svc, cfg=cfg) == set()


TEMPLATE = SourceConfig(fqdn_templates=("{{.Name}}.{{.Namespace}}.example.com",))


@pytest.mark.parametrize(
    ("annotations", "cfg", "expected_names"),
    [
        ({}, TEMPLATE, {"web.ns.example.com"}),
        (HOST, TEMPLATE, {"web.example.org"}),
        (
            HOST,
            SourceConfig(fqdn_templates=TEMPLATE.fqdn_templates, combine_fqdn_annotation=True),
            {"web.example.org", "web.ns.example.com"},
        ),
        (
            HOST,
            SourceConfig(fqdn_templates=TEMPLATE.fqdn_templates, ignore_hostname_annotation=True),
            {"web.ns.example.com"},
        ),
        (
            {**HOST, **INTERNAL},
            SourceConfig(fqdn_templates=TEMPLATE.fqdn_templates, ignore_hostname_annotation=True),
            {"web.ns.example.com"},
        ),
    ],
    ids=["template-only", "annotation-wins", "combine", "ignore-annotation", "ignore-internal-too"],
)
def test_template_and_annotations(
    annotations: dict[str, str], cfg: SourceConfig, expected_names: set[str]
) -> None:
    svc = service("LoadBalancer", annotations, status=lb_status({"ip": "1.2.3.4"}))
    assert {name for name, _, _ in records(svc, cfg=cfg)} == expected_names


def test_template_on_cluster_ip_needs_publish_internal() -> None:
    svc = service("ClusterIP", {})
    assert records(svc, cfg=TEMPLATE) == set()
    cfg = SourceConfig(fqdn_templates=TEMPLATE.fqdn_templates, publish_internal_services=True)
    assert records(svc, cfg=cfg) == {("web.ns.example.com", "A", ("10.0.0.10",))}


def test_endpoint_fields() -> None:
    svc = service(
        "LoadBalancer",
        {**HOST, ALPHA + "ttl": "2m", A + "coredns-group": "g1", A + "set-identifier": "eu"},
        status=lb_status({"ip": "1.2.3.4"}),
    )
    (endpoint,) = service_endpoints(svc, Cluster(), SourceConfig()).endpoints
    assert endpoint.ttl == 120
    assert endpoint.resource == "service/ns/web"
    assert endpoint.group == "g1"
    assert dict(endpoint.provider_specific) == {"coredns/group": "g1"}
    assert endpoint.set_identifier == "eu"


@pytest.mark.parametrize(
    ("annotation", "min_ttl", "expected"), [(None, 0, 0), (None, 90, 90), ("30", 90, 30)]
)
def test_min_ttl_applies_when_unset(annotation: str | None, min_ttl: int, expected: int) -> None:
    annotations = {**HOST, **({A + "ttl": annotation} if annotation else {})}
    svc = service("LoadBalancer", annotations, status=lb_status({"ip": "1.2.3.4"}))
    (endpoint,) = service_endpoints(svc, Cluster(), SourceConfig(min_ttl=min_ttl)).endpoints
    assert endpoint.ttl == expected


def test_custom_annotation_prefix() -> None:
    cfg = SourceConfig(annotation_prefix="dns.example.com/")
    svc = service(
        "LoadBalancer",
        {"dns.example.com/hostname": "c.example.org", **HOST},
        status=lb_status({"ip": "1.2.3.4"}),
    )
    assert records(svc, cfg=cfg) == {("c.example.org", "A", ("1.2.3.4",))}
