"""The resync reads only what the sources need: no Pods, Nodes or EndpointSlices unless a Service needs them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adapters.kube_cluster import PER_NAMESPACE, read_all
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
        self.namespaces: list[tuple[str, str]] = []  # (kind, namespace) of each LIST

    def list(
        self, kind: str, namespace: str = "", label_selector: str = "", metadata_only: bool = False
    ) -> tuple[list[dict[str, Any]], str]:
        self.lists.append((kind, label_selector))
        self.namespaces.append((kind, namespace))
        found = [o for o in self.objects if o["kind"] == kind]
        if namespace:
            found = [o for o in found if o["metadata"].get("namespace") == namespace]
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


def in_ns(obj: dict[str, Any], ns: str, name: str = "") -> dict[str, Any]:
    meta = {**obj["metadata"], "namespace": ns} | ({"name": name} if name else {})
    return {**obj, "metadata": meta}


@pytest.mark.parametrize("headless_in", [1, 2, PER_NAMESPACE, PER_NAMESPACE + 1])
def test_pods_are_listed_only_in_the_namespaces_whose_services_need_them(headless_in: int) -> None:
    """Up to PER_NAMESPACE namespaces, one LIST each; beyond, one LIST of all."""
    namespaces = [f"ns{i}" for i in range(PER_NAMESPACE + 3)]
    objects = [in_ns(LB, "busy", "lb")]
    for ns in namespaces:
        objects += [in_ns(POD, ns), in_ns(SLICE, ns)]
    objects += [in_ns(HEADLESS, ns) for ns in namespaces[:headless_in]]
    kube = RecordingKube(objects)
    cfg = SourceConfig()
    cluster = read_all(kube, ("service",), cfg)  # type: ignore[arg-type]
    pod_lists = [ns for kind, ns in kube.namespaces if kind == "Pod"]
    if headless_in <= PER_NAMESPACE:
        assert pod_lists == namespaces[:headless_in]
        assert len(cluster.pods) == headless_in, "no Pod of a namespace without such a Service"
    else:
        assert pod_lists == [""]
    assert [ns for kind, ns in kube.namespaces if kind == "EndpointSlice"] == pod_lists
    everything = Cluster.from_objects(objects)
    assert collect(cluster, cfg).endpoints == collect(everything, cfg).endpoints
    assert any(e.targets == ("10.1.0.7",) for e in collect(cluster, cfg).endpoints), "the Pods did count"


# ---------------------------------------------------------------- Gateway API routes and DNSEndpoints

GWV1 = "gateway.networking.k8s.io/v1"


def gw(name: str, ip: str, origin: str = "Same", ns: str = "infra") -> dict[str, Any]:
    listener: dict[str, Any] = {"name": "http", "protocol": "HTTP", "port": 80}
    if origin != "Same":
        listener["allowedRoutes"] = {
            "namespaces": {"from": origin, "selector": {"matchLabels": {"dns": "on"}}}
        }
    return {
        "kind": "Gateway", "apiVersion": GWV1, "metadata": {"name": name, "namespace": ns},
        "spec": {"listeners": [listener]}, "status": {"addresses": [{"type": "IPAddress", "value": ip}]},
    }  # fmt: skip


def http_route(name: str, host: str, parent: str, ns: str = "app") -> dict[str, Any]:
    ref = {"name": parent, "namespace": "infra"}
    accepted = {"type": "Accepted", "status": "True"}
    return {
        "kind": "HTTPRoute", "apiVersion": GWV1, "metadata": {"name": name, "namespace": ns},
        "spec": {"parentRefs": [ref], "hostnames": [host]},
        "status": {"parents": [{"parentRef": ref, "conditions": [accepted]}]},
    }  # fmt: skip


NS_APP = {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "app", "labels": {"dns": "on"}}}


def dns_endpoint(
    name: str, generation: int, observed: int | None, *records: tuple[str, str, str]
) -> dict[str, Any]:
    meta = {"name": name, "namespace": "app", "generation": generation, "resourceVersion": f"{generation}0"}
    return {
        "kind": "DNSEndpoint", "apiVersion": "externaldns.k8s.io/v1alpha1", "metadata": meta,
        "spec": {"endpoints": [{"dnsName": n, "recordType": t, "targets": [v]} for n, t, v in records]},
        "status": {} if observed is None else {"observedGeneration": observed},
    }  # fmt: skip


class FakeKube(RecordingKube):
    """RecordingKube with GETs, and kinds whose CRD is missing (a 404 on LIST, None on GET)."""

    def __init__(self, objects: list[dict[str, Any]], absent: frozenset[str] = frozenset()) -> None:
        super().__init__(objects)
        self.absent = absent
        self.gets: list[tuple[str, str, str]] = []
        self.requests: list[tuple[str, str, Any]] = []

    def list(
        self, kind: str, namespace: str = "", label_selector: str = "", metadata_only: bool = False
    ) -> tuple[list[dict[str, Any]], str]:
        if kind in self.absent:
            from kubernetes.client.exceptions import ApiException

            self.lists.append((kind, label_selector))
            raise ApiException(status=404, reason="Not Found")
        return super().list(kind, namespace, label_selector)

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        self.gets.append((kind, namespace, name))
        for o in self.objects:
            meta = o["metadata"]
            if o["kind"] == kind and meta["name"] == name and meta.get("namespace", "") == namespace:
                return dict(o)
        return None

    def request(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        self.requests.append((method, path, body))
        return {}


def test_kinds_for_route_and_crd_sources() -> None:
    from adapters.kube_cluster import kinds_for

    assert kinds_for(["gateway-httproute", "gateway-udproute"]) == [
        "HTTPRoute",
        "UDPRoute",
        "Gateway",
        "Namespace",
    ]
    assert kinds_for(["crd"]) == ["DNSEndpoint"]
    assert kinds_for(["service", "crd"]) == ["Service", "DNSEndpoint", "EndpointSlice", "Pod", "Node"]


@pytest.mark.parametrize(
    ("objects", "listed"),
    [
        ([gw("gw", "203.0.113.1")], ["HTTPRoute"]),  # no route: no Gateway is read
        (
            [http_route("web", "web.example.org", "gw"), gw("gw", "203.0.113.1", "All")],
            ["HTTPRoute", "Gateway"],
        ),
        (
            [http_route("web", "web.example.org", "gw"), gw("gw", "203.0.113.1", "Selector"), NS_APP],
            ["HTTPRoute", "Gateway", "Namespace"],
        ),
    ],
)
def test_the_resync_reads_gateways_only_for_routes_and_namespaces_only_for_selectors(
    objects: list[dict[str, Any]], listed: list[str]
) -> None:
    kube = RecordingKube(objects)
    cfg = SourceConfig()
    cluster = read_all(kube, ("gateway-httproute",), cfg)  # type: ignore[arg-type]
    assert [kind for kind, _ in kube.lists] == listed
    everything = Cluster.from_objects(objects)
    assert (
        collect(cluster, cfg, ("gateway-httproute",)).endpoints
        == collect(everything, cfg, ("gateway-httproute",)).endpoints
    )
    if len(listed) > 1:
        assert [e.targets for e in collect(cluster, cfg, ("gateway-httproute",)).endpoints] == [
            ("203.0.113.1",)
        ]


def test_a_kind_whose_crd_is_missing_reads_as_none_and_counts_a_source_error() -> None:
    from process import metrics

    kube = FakeKube([LB], absent=frozenset({"HTTPRoute", "GRPCRoute", "DNSEndpoint"}))
    before = metrics.source_errors._value.get()
    cluster = read_all(kube, ("service", "gateway-httproute", "gateway-grpcroute", "crd"), SourceConfig())  # type: ignore[arg-type]
    assert [s["metadata"]["name"] for s in cluster.services] == ["lb"]
    assert cluster.objects("HTTPRoute") == () and cluster.objects("DNSEndpoint") == ()
    assert metrics.source_errors._value.get() == before + 3


def test_a_missing_builtin_kind_is_still_an_error() -> None:
    from kubernetes.client.exceptions import ApiException

    kube = FakeKube([], absent=frozenset({"Service"}))
    with pytest.raises(ApiException):
        read_all(kube, ("service",), SourceConfig())  # type: ignore[arg-type]


def test_read_some_of_a_route_brings_its_gateways_and_when_they_select_namespaces_its_namespace() -> None:
    from adapters.kube_cluster import read_some
    from extdns.sources import ObjectRef

    web = http_route("web", "web.example.org", "gw")
    kube = FakeKube([web, gw("gw", "203.0.113.1", "All"), NS_APP])
    objects, _ = read_some(kube, [ObjectRef("HTTPRoute", "app", "web")])  # type: ignore[arg-type]
    assert sorted(o["kind"] for o in objects) == ["Gateway", "HTTPRoute"]
    kube = FakeKube([web, gw("gw", "203.0.113.1", "Selector"), NS_APP])
    objects, _ = read_some(kube, [ObjectRef("HTTPRoute", "app", "web")])  # type: ignore[arg-type]
    assert sorted(o["kind"] for o in objects) == ["Gateway", "HTTPRoute", "Namespace"]
    cfg = SourceConfig()
    resync = collect(
        Cluster.from_objects([web, gw("gw", "203.0.113.1", "Selector"), NS_APP]), cfg, ("gateway-httproute",)
    )
    assert collect(Cluster.from_objects(objects), cfg, ("gateway-httproute",)).endpoints == resync.endpoints
    assert resync.endpoints, "the Selector admits the labelled namespace"


def test_observed_generation_is_put_on_the_status_subresource_with_the_resource_version_read() -> None:
    from adapters.kube_cluster import observe_generations

    kube = FakeKube([])
    observe_generations(kube, [dns_endpoint("rec", 3, 2, ("a.example.org", "A", "192.0.2.1"))])  # type: ignore[arg-type]
    [(method, path, body)] = kube.requests
    assert (method, path) == (
        "PUT",
        "/apis/externaldns.k8s.io/v1alpha1/namespaces/app/dnsendpoints/rec/status",
    )
    assert body["metadata"]["resourceVersion"] == "30" and body["status"] == {"observedGeneration": 3}


def _controller(cluster: Any, sources: tuple[str, ...] = ("crd",)) -> Any:
    from controller.reconcile import Controller
    from extdns.syncconfig import SyncConfig
    from tests.fakes import FakeClaims, FakeEtcd, FakeStore

    store = FakeStore(FakeEtcd(), "/skydns")
    return Controller(
        store, cluster, FakeClaims(), SyncConfig(owner_id="t", prefix="/skydns"), SourceConfig(), sources
    )


def test_the_resync_and_the_task_mark_dns_endpoints_observed_only_when_the_generation_differs() -> None:
    from controller.reconcile import Message, full_sync, reconcile
    from extdns.sources import ObjectRef
    from tests.fakes import FakeCluster

    cluster = FakeCluster([
        dns_endpoint("new", 1, None, ("new.example.org", "A", "192.0.2.1")),
        dns_endpoint("done", 2, 2, ("done.example.org", "A", "192.0.2.2")),
        dns_endpoint("stale", 3, 2, ("stale.example.org", "A", "192.0.2.3"), ("mx.example.org", "MX", "10 mx.example.org")),
    ])  # fmt: skip
    ctl = _controller(cluster)
    full_sync(ctl)
    assert sorted(r.name for r in cluster.observed) == ["new", "stale"]
    assert cluster.objects[ObjectRef("DNSEndpoint", "app", "stale")]["status"] == {"observedGeneration": 3}
    full_sync(ctl)
    assert len(cluster.observed) == 2, "nothing differs any more: no write"
    cluster.put(dns_endpoint("done", 4, 2, ("done.example.org", "A", "192.0.2.4")))
    ctl.claims.mark_pending("DNSEndpoint/app/done")
    reconcile(ctl, [Message(ObjectRef("DNSEndpoint", "app", "done"))])
    assert cluster.observed[2:] == [ObjectRef("DNSEndpoint", "app", "done")]
    assert cluster.objects[ObjectRef("DNSEndpoint", "app", "done")]["status"] == {"observedGeneration": 4}
    assert not _controller(cluster, ("service",)).cluster.observed[3:], "without the crd source: untouched"


# ---------------------------------------------------------------- ListenerSets (--gateway-listener-sets)

LS_ON = SourceConfig(gateway_listener_sets=True)
ACCEPTED = [{"type": "Accepted", "status": "True"}]


def ls_gateway(allowed: str | None = "All", ip: str = "203.0.113.7") -> dict[str, Any]:
    """Gateway infra/gw: allows ListenerSets from `allowed` (None: the default, none), by label {dns: on}."""
    spec: dict[str, Any] = {"listeners": [{"name": "http", "protocol": "HTTP", "port": 80}]}
    if allowed is not None:
        spec["allowedListeners"] = {
            "namespaces": {"from": allowed, "selector": {"matchLabels": {"dns": "on"}}}
        }
    return {
        "kind": "Gateway", "apiVersion": GWV1, "metadata": {"name": "gw", "namespace": "infra", "resourceVersion": "1"},
        "spec": spec, "status": {"addresses": [{"type": "IPAddress", "value": ip}]},
    }  # fmt: skip


def listener_set(origin: str = "All", ns: str = "app", rv: str = "1") -> dict[str, Any]:
    """ListenerSet <ns>/ls on infra/gw: one accepted listener `web` for *.ls.example.org, routes from `origin`."""
    entry = {
        "name": "web", "protocol": "HTTP", "port": 80, "hostname": "*.ls.example.org",
        "allowedRoutes": {"namespaces": {"from": origin, "selector": {"matchLabels": {"dns": "on"}}}},
    }  # fmt: skip
    return {
        "kind": "ListenerSet", "apiVersion": GWV1,
        "metadata": {"name": "ls", "namespace": ns, "resourceVersion": rv, "uid": "ls-uid"},
        "spec": {"parentRef": {"name": "gw", "namespace": "infra"}, "listeners": [entry]},
        "status": {"conditions": ACCEPTED, "listeners": [{"name": "web", "conditions": ACCEPTED}]},
    }  # fmt: skip


def ls_route(name: str = "web", ns: str = "app", ls_ns: str = "app") -> dict[str, Any]:
    ref = {"group": "gateway.networking.k8s.io", "kind": "ListenerSet", "name": "ls", "namespace": ls_ns}
    return {
        "kind": "HTTPRoute", "apiVersion": GWV1, "metadata": {"name": name, "namespace": ns, "resourceVersion": "1"},
        "spec": {"parentRefs": [ref], "hostnames": [f"{name}.ls.example.org"]},
        "status": {"parents": [{"parentRef": ref, "conditions": ACCEPTED}]},
    }  # fmt: skip


NS_INFRA = {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "infra"}}
NS_OTHER = {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "other", "labels": {"dns": "on"}}}


def test_kinds_for_includes_listener_sets_only_with_the_flag_and_a_route_source() -> None:
    from adapters.kube_cluster import kinds_for

    routes = ["HTTPRoute", "Gateway", "Namespace"]
    assert kinds_for(["gateway-httproute"]) == routes
    assert kinds_for(["gateway-httproute"], SourceConfig()) == routes
    assert kinds_for(["gateway-httproute"], LS_ON) == [*routes, "ListenerSet"]
    assert kinds_for(["service", "crd"], LS_ON) == ["Service", "DNSEndpoint", "EndpointSlice", "Pod", "Node"]


@pytest.mark.parametrize(
    ("objects", "cfg", "listed", "produces"),
    [
        # the flag off: no ListenerSet is read, and the route gets nothing
        ([ls_route(), ls_gateway(), listener_set()], SourceConfig(), ["HTTPRoute", "Gateway"], False),
        ([ls_route(), ls_gateway(), listener_set()], LS_ON, ["HTTPRoute", "Gateway", "ListenerSet"], True),
        # no route names a ListenerSet: none is read
        ([http_route("r", "r.example.org", "gw"), ls_gateway(), listener_set()], LS_ON, ["HTTPRoute", "Gateway"],
         False),
        # the Gateway admits ListenerSets by their namespace's labels
        ([ls_route(), ls_gateway("Selector"), listener_set(), NS_APP, NS_INFRA], LS_ON,
         ["HTTPRoute", "Gateway", "ListenerSet", "Namespace"], True),
        # a ListenerSet listener admits routes by their namespace's labels
        ([ls_route(ns="other"), ls_gateway(), listener_set("Selector"), NS_OTHER, NS_INFRA], LS_ON,
         ["HTTPRoute", "Gateway", "ListenerSet", "Namespace"], True),
    ],
)  # fmt: skip
def test_the_resync_reads_listener_sets_with_the_flag_when_a_route_names_one(
    objects: list[dict[str, Any]], cfg: SourceConfig, listed: list[str], produces: bool
) -> None:
    kube = RecordingKube(objects)
    cluster = read_all(kube, ("gateway-httproute",), cfg)  # type: ignore[arg-type]
    assert [kind for kind, _ in kube.lists] == listed
    ours = collect(cluster, cfg, ("gateway-httproute",)).endpoints
    assert ours == collect(Cluster.from_objects(objects), cfg, ("gateway-httproute",)).endpoints
    assert bool(ours) == produces
    if produces:
        assert [e.targets for e in ours] == [("203.0.113.7",)]


def test_the_fingerprint_notices_a_listener_set_change() -> None:
    from adapters.kube_cluster import fingerprint, matches

    objects = [ls_route(), ls_gateway(), listener_set()]
    kube = RecordingKube(objects)
    previous = read_all(kube, ("gateway-httproute",), LS_ON)  # type: ignore[arg-type]
    seen = fingerprint(("gateway-httproute",), LS_ON, previous)
    assert matches(kube, LS_ON, seen)  # type: ignore[arg-type]
    kube.objects = [ls_route(), ls_gateway(), listener_set(rv="2")]
    assert not matches(kube, LS_ON, seen)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("objects", "route", "kinds"),
    [
        ([ls_gateway(), listener_set()], ls_route(), ["Gateway", "HTTPRoute", "ListenerSet"]),
        ([ls_gateway("Selector"), listener_set(), NS_APP, NS_INFRA], ls_route(),
         ["Gateway", "HTTPRoute", "ListenerSet", "Namespace"]),
        ([ls_gateway(), listener_set("Selector"), NS_OTHER, NS_INFRA], ls_route(ns="other"),
         ["Gateway", "HTTPRoute", "ListenerSet", "Namespace"]),
        # both selectors: the ListenerSet's namespace (for the Gateway) and the route's (for the listener)
        ([ls_gateway("Selector"), listener_set("Selector"), NS_APP, NS_OTHER, NS_INFRA], ls_route(ns="other"),
         ["Gateway", "HTTPRoute", "ListenerSet", "Namespace", "Namespace"]),
    ],
)  # fmt: skip
def test_read_some_of_a_route_on_a_listener_set_reads_what_the_resync_reads_for_it(
    objects: list[dict[str, Any]], route: dict[str, Any], kinds: list[str]
) -> None:
    from adapters.kube_cluster import read_some
    from extdns.sources import ObjectRef

    everything = [route, *objects]
    ref = ObjectRef("HTTPRoute", route["metadata"]["namespace"], "web")
    got, _ = read_some(FakeKube(everything), [ref], LS_ON)  # type: ignore[arg-type]
    assert sorted(o["kind"] for o in got) == kinds
    resync = collect(read_all(RecordingKube(everything), ("gateway-httproute",), LS_ON), LS_ON,  # type: ignore[arg-type]
                     ("gateway-httproute",))  # fmt: skip
    task = collect(Cluster.from_objects(got), LS_ON, ("gateway-httproute",))
    assert task.endpoints == resync.endpoints
    assert [e.targets for e in resync.endpoints] == [("203.0.113.7",)]
    # the flag off: no ListenerSet read, nothing published, either way
    got, _ = read_some(FakeKube(everything), [ref], SourceConfig())  # type: ignore[arg-type]
    assert sorted(o["kind"] for o in got) == ["HTTPRoute"]


def test_a_crowded_namespace_of_gateways_fetched_by_one_list_takes_only_that_namespace() -> None:
    from adapters.kube_cluster import LIST_THRESHOLD, read_some
    from extdns.sources import ObjectRef

    n = LIST_THRESHOLD + 1
    routes = [http_route(f"r{i}", f"r{i}.example.org", f"gw{i}") for i in range(n)]
    gateways = [gw(f"gw{i}", "203.0.113.1", "All") for i in range(n)]
    impostor = gw("gw0", "198.51.100.66", "All", ns="elsewhere")  # same name, another namespace
    kube = FakeKube([*routes, *gateways, impostor])
    got, _ = read_some(kube, [ObjectRef("HTTPRoute", "app", f"r{i}") for i in range(n)])  # type: ignore[arg-type]
    parents = [o for o in got if o["kind"] == "Gateway"]
    assert sorted((g["metadata"]["namespace"], g["metadata"]["name"]) for g in parents) == sorted(
        ("infra", f"gw{i}") for i in range(n)
    )


@pytest.fixture(autouse=True)
def _no_learned_sizes() -> Iterator[None]:
    """Namespace sizes learned by one test's LISTs must not steer another's GET-or-LIST choice."""
    from adapters import kube_cluster

    kube_cluster._sizes.clear()
    yield
    kube_cluster._sizes.clear()


def test_a_task_lists_a_crowded_namespace_only_when_that_is_cheaper_than_a_get_each() -> None:
    from adapters.kube_cluster import GET_WEIGHT, LIST_THRESHOLD, read_some
    from extdns.sources import ObjectRef

    size = 1000
    kube = FakeKube([svc(f"s{i}", {"type": "ClusterIP", "clusterIP": "10.0.0.9"}) for i in range(size)])
    few = [ObjectRef("Service", "default", f"s{i}") for i in range(LIST_THRESHOLD + 1)]
    got, _ = read_some(kube, few)  # type: ignore[arg-type]
    assert len(got) == len(few) and len(kube.lists) == 1 and not kube.gets, "size unknown: one LIST learns it"
    got, _ = read_some(kube, few)  # type: ignore[arg-type]
    assert len(got) == len(few) and len(kube.lists) == 1, "17 GETs cost less than listing 1,000"
    assert len(kube.gets) == len(few)
    many = [ObjectRef("Service", "default", f"s{i}") for i in range(size // GET_WEIGHT + 1)]
    got, _ = read_some(kube, many)  # type: ignore[arg-type]
    assert len(got) == len(many) and len(kube.lists) == 2, "enough of the namespace: one LIST"
