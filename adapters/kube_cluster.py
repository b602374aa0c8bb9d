"""Reading the cluster for the sources: everything (resync), or some objects and what they depend on."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from adapters.kube_api import Kube, KubeObject
from controller.refs import bare, ref_key
from extdns.sources import Cluster, ObjectRef, SourceConfig
from extdns.sources.cluster import SERVICE_NAME_LABEL

SOURCE_KINDS = {"service": "Service", "ingress": "Ingress"}
SERVICE_DEPENDENCIES = ("EndpointSlice", "Pod", "Node")








def kinds_for(sources: Iterable[str]) -> list[str]:
    kinds = [SOURCE_KINDS[s] for s in sources]
    if "Service" in kinds:
        kinds += SERVICE_DEPENDENCIES
    return kinds


def read_all(kube: Kube, sources: Iterable[str], cfg: SourceConfig) -> Cluster:
    """What the sources read (in --namespace when set; Nodes are cluster-wide), and no more than they need.

    The sources' own kinds are listed first; EndpointSlices (those of Services, by label) and Pods only
    when some Service is headless or publishes node addresses, Nodes only when one does the latter. A
    cluster of 20k Pods and no such Service costs the resync nothing more.
    """
    objects: list[KubeObject] = []
    for kind in (SOURCE_KINDS[s] for s in sources):
        objects += kube.list(kind, cfg.namespace)[0]
    needs = [_needs(o) for o in objects if o.get("kind") == "Service"]
    if any(pods for pods, _ in needs):
        objects += kube.list("EndpointSlice", cfg.namespace, SERVICE_NAME_LABEL)[0]
        objects += kube.list("Pod", cfg.namespace)[0]
    if any(nodes for _, nodes in needs):
        objects += kube.list("Node", "")[0]
    return Cluster.from_objects(objects)


def _needs(svc: KubeObject) -> tuple[bool, bool]:
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


# More objects than this of one kind in one namespace are read with one LIST instead of a GET each.
LIST_THRESHOLD = 16


def _fetch(kube: Kube, refs: list[ObjectRef]) -> dict[ObjectRef, KubeObject]:
    """The objects that exist, by bare ref: a GET each, or one LIST per crowded (kind, namespace)."""
    groups: dict[tuple[str, str], list[ObjectRef]] = {}
    for ref in refs:
        groups.setdefault((ref.kind, ref.namespace), []).append(ref)
    found: dict[ObjectRef, KubeObject] = {}
    for (kind, ns), members in groups.items():
        if len(members) > LIST_THRESHOLD:
            wanted = set(members)
            for obj in kube.list(kind, ns)[0]:
                ref = ObjectRef(kind, ns, (obj.get("metadata") or {}).get("name", ""))
                if ref in wanted:
                    found[ref] = obj
            continue
        for ref in members:
            one = kube.get(kind, ns, ref.name)
            if one is not None:
                one["kind"] = kind
                found[ref] = one
    return found


def read_some(kube: Kube, refs: Iterable[ObjectRef]) -> tuple[list[KubeObject], dict[ObjectRef, KubeObject]]:
    """The named objects that still exist (by bare ref), plus the objects their records depend on."""
    found = _fetch(kube, sorted({bare(r) for r in refs}, key=ref_key))
    extra: list[KubeObject] = []
    needs_nodes = False
    for ref, obj in found.items():
        if ref.kind == "Service":
            deps, wants_nodes = _service_needs(kube, obj)
            extra += deps
            needs_nodes |= wants_nodes
    if needs_nodes:
        extra += kube.list("Node")[0]
    return [*found.values(), *extra], found




class KubeCluster:
    """The cluster port over the API server: GETs and paginated LISTs, all consistent reads."""

    def __init__(self, kube: Callable[[], Kube], sources: Iterable[str], cfg: SourceConfig) -> None:
        self.kube = kube  # made on first use: `extdns sync --from-manifests` never needs one
        self.sources = tuple(sources)
        self.cfg = cfg

    def read_all(self) -> Cluster:
        return read_all(self.kube(), self.sources, self.cfg)

    def read_some(self, refs: Iterable[ObjectRef]) -> list[KubeObject]:
        return read_some(self.kube(), refs)[0]
