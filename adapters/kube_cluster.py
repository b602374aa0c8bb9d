"""Reading the cluster for the sources: everything (resync), or some objects and what they depend on."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from kubernetes.client.exceptions import ApiException

from adapters.kube_api import RESOURCES, Kube, KubeObject
from controller.refs import bare, ref_key
from extdns.sources import Cluster, ObjectRef, SourceConfig
from extdns.sources.cluster import SERVICE_NAME_LABEL
from extdns.sources.collect import KIND_OF_SOURCE
from extdns.sources.gateway import ROUTE_KINDS, listener_set_gateway, route_gateways, route_listener_sets
from extdns.sources.objects import namespace_of
from process import metrics
from process.logs import log

SERVICE_DEPENDENCIES = ("EndpointSlice", "Pod", "Node")
ROUTE_DEPENDENCIES = ("Gateway", "Namespace")
LISTENER_SET = "ListenerSet"  # a route dependency too, with --gateway-listener-sets
# Read in every namespace whatever --namespace is (ExternalDNS reads ListenerSets cluster-wide too).
CLUSTER_WIDE = frozenset({"Node", "Namespace", "Gateway", LISTENER_SET})


def source_kinds(sources: Iterable[str]) -> list[str]:
    """The kinds the sources turn into records, each once, in source order."""
    return list(dict.fromkeys(KIND_OF_SOURCE[s] for s in sources))


def kinds_for(sources: Iterable[str], cfg: SourceConfig | None = None) -> list[str]:
    """Every kind the sources may read: their own, and what those depend on.

    ListenerSets only with `cfg.gateway_listener_sets` (--gateway-listener-sets) and a route source.
    """
    kinds = source_kinds(sources)
    if "Service" in kinds:
        kinds += SERVICE_DEPENDENCIES
    if any(k in ROUTE_KINDS for k in kinds):
        kinds += ROUTE_DEPENDENCIES
        if cfg is not None and cfg.gateway_listener_sets:
            kinds.append(LISTENER_SET)
    return kinds


def selects_namespaces(parent: Mapping[str, Any]) -> bool:
    """Whether a listener of the Gateway or ListenerSet admits routes by a namespace label selector."""
    for listener in (parent.get("spec") or {}).get("listeners") or []:
        allowed = (listener.get("allowedRoutes") or {}) if isinstance(listener, Mapping) else {}
        if ((allowed.get("namespaces") or {}).get("from")) == "Selector":
            return True
    return False


def admits_listener_sets_by_label(gateway: Mapping[str, Any]) -> bool:
    """Whether the Gateway admits ListenerSets by a label selector on their namespace (`allowedListeners`)."""
    allowed = (gateway.get("spec") or {}).get("allowedListeners") or {}
    return ((allowed.get("namespaces") or {}).get("from")) == "Selector"


_absent: set[str] = set()  # CRD-backed kinds last found not served, for one log line per change


def _list(
    kube: Kube, kind: str, namespace: str = "", label_selector: str = "", metadata_only: bool = False
) -> list[KubeObject]:
    """A LIST; a CRD-backed kind the server does not serve (404) is no objects, said once per change."""
    try:
        items = kube.list(kind, "" if kind in CLUSTER_WIDE else namespace, label_selector, metadata_only)[0]
    except ApiException as e:
        if e.status != 404 or not RESOURCES[kind].optional:
            raise
        metrics.source_errors.inc()
        if kind not in _absent:
            _absent.add(kind)
            log.warning(
                f"{kind} ({RESOURCES[kind].api_version}) is not served: its CRD is not installed;"
                " reading no objects of it"
            )
        return []
    if kind in _absent:
        _absent.discard(kind)
        log.info(f"{kind} ({RESOURCES[kind].api_version}) is served again")
    return items


# LIST one kind with a label selector ("" for none) in one namespace ("": in --namespace, or in every
# namespace; cluster-wide kinds ignore it).
Lister = Callable[[str, str, str], Sequence[Mapping[str, Any]]]
# EndpointSlices and Pods are listed in each namespace whose Services need them, up to this many
# namespaces; beyond, in one LIST of all (or of --namespace).
PER_NAMESPACE = 8


def _gather(list_kind: Lister, sources: Iterable[str], cfg: SourceConfig) -> list[Mapping[str, Any]]:
    """The LISTs a resync makes, each decided on what the earlier ones returned, and their objects."""
    objects: list[Mapping[str, Any]] = []
    for kind in source_kinds(sources):
        objects += list_kind(kind, "", "")
    needs = [(namespace_of(o), *_needs(o)) for o in objects if o.get("kind") == "Service"]
    pod_namespaces = sorted({ns for ns, pods, _ in needs if pods})
    for ns in pod_namespaces if len(pod_namespaces) <= PER_NAMESPACE else [""]:
        objects += list_kind("EndpointSlice", SERVICE_NAME_LABEL, ns)
        objects += list_kind("Pod", "", ns)
    if any(nodes for _, _, nodes in needs):
        objects += list_kind("Node", "", "")
    routes = [o for o in objects if o.get("kind") in ROUTE_KINDS]
    if routes:
        gateways = list_kind("Gateway", "", "")
        objects += gateways
        listener_sets: Sequence[Mapping[str, Any]] = []
        if cfg.gateway_listener_sets and any(route_listener_sets(r) for r in routes):
            listener_sets = list_kind(LISTENER_SET, "", "")
            objects += listener_sets
        if any(selects_namespaces(p) for p in [*gateways, *listener_sets]) or (
            listener_sets and any(admits_listener_sets_by_label(g) for g in gateways)
        ):
            objects += list_kind("Namespace", "", "")
    return objects


def _in(objects: Sequence[Mapping[str, Any]], namespace: str) -> Sequence[Mapping[str, Any]]:
    """Those of the objects a LIST in `namespace` ("": --namespace or all) returns."""
    return [o for o in objects if namespace_of(o) == namespace] if namespace else objects


def read_all(kube: Kube, sources: Iterable[str], cfg: SourceConfig) -> Cluster:
    """What the sources read (in --namespace when set; Nodes are cluster-wide), and no more than they need.

    The sources' own kinds are listed first; EndpointSlices (those of Services, by label) and Pods only
    when some Service is headless or publishes node addresses, in those Services' namespaces (one LIST
    of all beyond PER_NAMESPACE of them), Nodes only when one does the latter. A cluster of 20k Pods
    and no such Service costs the resync nothing more. Gateways (cluster-wide) only
    when there is a route; with --gateway-listener-sets, ListenerSets (cluster-wide) only when a route
    names one; Namespaces only when a Gateway or ListenerSet admits routes by a namespace selector, or a
    Gateway admits those ListenerSets by one. A kind whose CRD is not installed reads as none.
    """
    return Cluster.from_objects(
        _gather(lambda kind, sel, ns: _list(kube, kind, ns or cfg.namespace, sel), sources, cfg)
    )


def _versions(objects: Iterable[Mapping[str, Any]]) -> set[tuple[str, str, str, str]]:
    metas = (o.get("metadata") or {} for o in objects)
    return {(m.get("namespace", ""), m.get("name", ""), m.get("uid", ""), m.get("resourceVersion", ""))
            for m in metas}  # fmt: skip


def fingerprint(sources: Iterable[str], cfg: SourceConfig, previous: Cluster) -> str:
    """The LISTs `read_all` made to read `previous`, each with a digest of the versions it returned.

    The LISTs are decided again on `previous`'s own objects, as `read_all` decided them: equal
    versions mean equal objects, so they are the LISTs `read_all` would make now if nothing changed.
    """
    made: list[tuple[str, str, str, str]] = []

    def replay(kind: str, selector: str, namespace: str) -> Sequence[Mapping[str, Any]]:
        objects = _in(previous.objects(kind), namespace)
        made.append((kind, selector, namespace, _digest(objects)))
        return objects

    _gather(replay, sources, cfg)
    return json.dumps(made)


def matches(kube: Kube, cfg: SourceConfig, fingerprint_: str) -> bool:
    """Whether a resync would read what the fingerprint stands for: the same objects at the same versions.

    The same LISTs, metadata only, one after the other; the first that differs ends it.
    """
    for kind, selector, namespace, digest in json.loads(fingerprint_):
        now = _list(kube, str(kind), str(namespace) or cfg.namespace, str(selector), metadata_only=True)
        if _digest(now) != digest:
            return False
    return True


def _digest(objects: Iterable[Mapping[str, Any]]) -> str:
    return hashlib.sha256(repr(sorted(_versions(objects))).encode()).hexdigest()


def _needs(svc: Mapping[str, Any]) -> tuple[bool, bool]:
    """Whether a Service's records depend on EndpointSlices and Pods, and whether on the Nodes."""
    spec = svc.get("spec") or {}
    meta = svc.get("metadata") or {}
    nodes = spec.get("type", "ClusterIP") == "NodePort" or any(
        k.endswith("/endpoints-type") for k in meta.get("annotations") or {}
    )
    return spec.get("clusterIP") == "None" or nodes, nodes


def _service_needs(kube: Kube, svc: KubeObject) -> tuple[list[KubeObject], bool]:
    """The EndpointSlices and Pods a Service's records depend on, and whether it needs the Nodes."""
    spec = svc.get("spec") or {}
    meta = svc.get("metadata") or {}
    ns, name = meta.get("namespace", ""), meta.get("name", "")
    out: list[KubeObject] = []
    stype = spec.get("type", "ClusterIP")
    pods_needed, needs_nodes = _needs(svc)
    if pods_needed:
        slices, _ = kube.list("EndpointSlice", ns, f"{SERVICE_NAME_LABEL}={name}")
        out += slices
        pods = {
            (ep.get("targetRef") or {}).get("name")
            for s in slices
            for ep in s.get("endpoints") or []
            if (ep.get("targetRef") or {}).get("kind") == "Pod"
        }
        for pod in sorted(p for p in pods if p):
            found = kube.get("Pod", ns, pod)
            if found is not None:
                found["kind"] = "Pod"
                out.append(found)
        selector = spec.get("selector") or {}
        if stype == "NodePort" and spec.get("externalTrafficPolicy") == "Local" and selector:
            matching, _ = kube.list("Pod", ns, ",".join(f"{k}={v}" for k, v in sorted(selector.items())))
            out += matching
    return out, needs_nodes


# A GET costs about what LISTing this many objects does (0.40 ms vs 32 us per listed Service, measured
# on the test API server): a LIST is cheaper only for more objects than its size over this.
GET_WEIGHT = 12
LIST_THRESHOLD = 16  # never LIST for this few
_sizes: dict[tuple[str, str], int] = {}  # objects the last LIST of (kind, namespace) returned here


def _fetch(kube: Kube, refs: list[ObjectRef]) -> dict[ObjectRef, KubeObject]:
    """The objects that exist, by bare ref: a GET each, or one LIST when that is cheaper.

    A LIST is cheaper only when the objects wanted are a large enough share of the namespace: the
    size of the last LIST of that kind and namespace (unknown at first: then more than
    LIST_THRESHOLD objects are LISTed, which learns it).
    """
    groups: dict[tuple[str, str], list[ObjectRef]] = {}
    for ref in refs:
        groups.setdefault((ref.kind, ref.namespace), []).append(ref)
    found: dict[ObjectRef, KubeObject] = {}
    for (kind, ns), members in groups.items():
        if len(members) > LIST_THRESHOLD and len(members) * GET_WEIGHT >= _sizes.get((kind, ns), 0):
            listed = _list(kube, kind, ns)  # cluster-wide for CLUSTER_WIDE kinds: keep the namespace's
            _sizes[(kind, ns)] = len(listed)
            wanted = {ref.name: ref for ref in members}
            for obj in listed:
                meta = obj.get("metadata") or {}
                hit = wanted.get(meta.get("name", ""))
                if hit is not None and meta.get("namespace", "") == ns:
                    found[hit] = obj
            continue
        for ref in members:
            one = kube.get(kind, ns, ref.name)
            if one is not None:
                one["kind"] = kind
                found[ref] = one
    return found


def read_some(
    kube: Kube, refs: Iterable[ObjectRef], cfg: SourceConfig | None = None
) -> tuple[list[KubeObject], dict[ObjectRef, KubeObject]]:
    """The named objects that still exist (by bare ref), plus the objects their records depend on.

    A route brings its parent Gateways; with --gateway-listener-sets, its parent ListenerSets and their
    Gateways; when one of those admits routes by a namespace selector, the route's Namespace, and when a
    Gateway admits ListenerSets by one, the ListenerSets' Namespaces: what a resync reads for it.
    """
    found = _fetch(kube, sorted({bare(r) for r in refs}, key=ref_key))
    extra: list[KubeObject] = []
    needs_nodes = False
    gateways: set[ObjectRef] = set()
    sets: set[ObjectRef] = set()
    route_namespaces: set[str] = set()
    for ref, obj in found.items():
        if ref.kind == "Service":
            deps, wants_nodes = _service_needs(kube, obj)
            extra += deps
            needs_nodes |= wants_nodes
        elif ref.kind in ROUTE_KINDS:
            gateways.update(ObjectRef("Gateway", ns, name) for ns, name in route_gateways(obj))
            if cfg is not None and cfg.gateway_listener_sets:
                sets.update(ObjectRef(LISTENER_SET, ns, name) for ns, name in route_listener_sets(obj))
            route_namespaces.add(ref.namespace)
    if needs_nodes:
        extra += _list(kube, "Node")
    listener_sets = _fetch(kube, sorted(sets, key=ref_key)) if sets else {}
    extra += listener_sets.values()
    for ls in listener_sets.values():
        gw_namespace, gw_name = listener_set_gateway(ls)
        if gw_name:
            gateways.add(ObjectRef("Gateway", gw_namespace, gw_name))
    parents = _fetch(kube, sorted(gateways, key=ref_key)) if gateways else {}
    extra += parents.values()
    namespaces: set[str] = set()
    if any(selects_namespaces(p) for p in [*parents.values(), *listener_sets.values()]):
        namespaces |= route_namespaces
    if listener_sets and any(admits_listener_sets_by_label(g) for g in parents.values()):
        namespaces |= {ref.namespace for ref in listener_sets}
    if namespaces:
        extra += _fetch(kube, [ObjectRef("Namespace", "", ns) for ns in sorted(namespaces)]).values()
    return [*found.values(), *extra], found


def observe_generations(kube: Kube, objects: Sequence[KubeObject]) -> None:
    """Set `status.observedGeneration` to `metadata.generation` on each object (its status subresource).

    Optimistic: the PUT carries the resourceVersion read, so an object changed since is left for the
    next pass (409), as is one deleted since (404). Anything else is logged, never raised: the records
    are written already.
    """
    for obj in objects:
        meta = obj.get("metadata") or {}
        kind, ns, name = str(obj.get("kind", "")), meta.get("namespace", ""), meta.get("name", "")
        resource = RESOURCES[kind]
        status: dict[str, Any] = dict(obj.get("status") or {})
        status["observedGeneration"] = meta.get("generation")
        body = {
            "apiVersion": resource.api_version,
            "kind": kind,
            "metadata": {"name": name, "namespace": ns, "resourceVersion": meta.get("resourceVersion", "")},
            "status": status,
        }
        try:
            kube.request("PUT", resource.path(ns, name) + "/status", body)
        except ApiException as e:
            if e.status in (404, 409):
                log.debug(f"observedGeneration of {kind.lower()}/{ns}/{name} left for the next pass",
                          status=e.status)  # fmt: skip
                continue
            log.warning(f"Could not update ObservedGeneration of [{kind.lower()}/{ns}/{name}]",
                        error=str(e).splitlines()[0][:200])  # fmt: skip
        except Exception as exc:
            log.warning(f"Could not update ObservedGeneration of [{kind.lower()}/{ns}/{name}]",
                        error=str(exc).splitlines()[0][:200])  # fmt: skip


class KubeCluster:
    """The cluster port over the API server: GETs and paginated LISTs, all consistent reads."""

    def __init__(self, kube: Callable[[], Kube], sources: Iterable[str], cfg: SourceConfig) -> None:
        self.kube = kube  # made on first use: `extdns sync --from-manifests` never needs one
        self.sources = tuple(sources)
        self.cfg = cfg

    def read_all(self) -> Cluster:
        return read_all(self.kube(), self.sources, self.cfg)

    def fingerprint(self, previous: Cluster) -> str:
        return fingerprint(self.sources, self.cfg, previous)

    def matches(self, fingerprint_: str) -> bool:
        return matches(self.kube(), self.cfg, fingerprint_)

    def read_some(self, refs: Iterable[ObjectRef]) -> list[KubeObject]:
        return read_some(self.kube(), refs, self.cfg)[0]

    def observe(self, objects: Sequence[KubeObject]) -> None:
        if objects:
            observe_generations(self.kube(), objects)
