"""Running the sources over a Cluster snapshot: per object (for the per-object task) and for all of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from extdns.endpoint import Endpoint
from extdns.passmemo import PassMemo
from extdns.sources.cluster import Cluster
from extdns.sources.config import SOURCES, SourceConfig
from extdns.sources.crd import DNS_ENDPOINT_KIND, dns_endpoint_endpoints
from extdns.sources.endpoint_builder import ObjectResult
from extdns.sources.gateway import ROUTE_KINDS, route_endpoints
from extdns.sources.ingress import INGRESS_KIND, ingress_endpoints
from extdns.sources.merge import dedupe_endpoints, merge_endpoints
from extdns.sources.objects import KubeObject, ObjectRef, Rejection, name_of
from extdns.sources.service import SERVICE_KIND, service_endpoints
from extdns.zone_guard import Refusal

__all__ = ["KIND_OF_SOURCE", "CollectMemo", "Collected", "collect", "endpoints_for", "endpoints_for_object"]

KIND_OF_SOURCE = {
    "service": SERVICE_KIND,
    "ingress": INGRESS_KIND,
    **{f"gateway-{kind.lower()}": kind for kind in ROUTE_KINDS},
    "crd": DNS_ENDPOINT_KIND,
}
_CANONICAL_KINDS = {kind.lower(): kind for kind in KIND_OF_SOURCE.values()}
# What can go wrong reading a malformed dict; anything else is a bug and propagates.
_MALFORMED = (AttributeError, KeyError, IndexError, TypeError, ValueError)


def endpoints_for_object(kind: str, obj: KubeObject, cluster: Cluster, cfg: SourceConfig) -> ObjectResult:
    """What one object of a source's kind claims now, unmerged; empty when the flags do not select it.

    `kind` is a source name (`gateway-httproute`) or its Kind (`HTTPRoute`), case-insensitively.

    A malformed object yields a rejection, never an exception; so does each name the zone guard
    refuses (`SourceConfig.zone_guard`), and the object's other names still count.
    """
    canonical = KIND_OF_SOURCE.get(kind.lower()) or _CANONICAL_KINDS.get(kind.lower())
    if canonical is None:
        raise ValueError(f"unknown source kind {kind!r} (one of {', '.join(KIND_OF_SOURCE.values())})")
    ref = ObjectRef.of(canonical, obj)
    if not name_of(obj):
        return ObjectResult(rejections=[Rejection(ref, "object has no metadata.name")])
    try:
        result = _run(canonical, obj, cluster, cfg)
    except _MALFORMED as exc:
        return ObjectResult(rejections=[Rejection(ref, f"malformed object: {type(exc).__name__}: {exc}")])
    return _guarded(ref, result, cfg)


def _run(kind: str, obj: KubeObject, cluster: Cluster, cfg: SourceConfig) -> ObjectResult:
    if kind == SERVICE_KIND:
        return service_endpoints(obj, cluster, cfg)
    if kind == INGRESS_KIND:
        return ingress_endpoints(obj, cfg)
    if kind == DNS_ENDPOINT_KIND:
        return dns_endpoint_endpoints(obj, cfg)
    return route_endpoints(kind, obj, cluster, cfg)


def _guarded(ref: ObjectRef, result: ObjectResult, cfg: SourceConfig) -> ObjectResult:
    """The result without the names the zone guard refuses, each refused name rejected once."""
    verdicts: dict[str, Refusal | None] = {}
    for endpoint in result.endpoints:
        if endpoint.dns_name not in verdicts:
            verdicts[endpoint.dns_name] = cfg.zone_guard.check(ref.namespace, endpoint.dns_name)
    refused = [Rejection(ref, r.reason, r.rule) for r in verdicts.values() if r is not None]
    if not refused:
        return result
    kept = [e for e in result.endpoints if verdicts[e.dns_name] is None]
    return ObjectResult(kept, [*result.rejections, *refused])


# Kinds whose records depend on the object alone (and the flags); a Service's also on Pods,
# EndpointSlices and Nodes, a route's on Gateways, ListenerSets and Namespaces.
_SELF_CONTAINED = frozenset({INGRESS_KIND, DNS_ENDPOINT_KIND})


class CollectMemo(PassMemo[tuple[str, str, str], ObjectResult]):
    """What each object claimed in the last pass, by (kind, uid, resourceVersion): a long-lived process's.

    An object the API server returns at the same resourceVersion is the same object, so its result
    is reused instead of running the source again; only for results that depend on the object alone
    (Services only while the reading holds no Pods, EndpointSlices or Nodes).
    """


def _key(kind: str, obj: KubeObject, cluster: Cluster) -> tuple[str, str, str] | None:
    if kind not in _SELF_CONTAINED and not (
        kind == SERVICE_KIND and not (cluster.pods or cluster.endpoint_slices or cluster.nodes)
    ):
        return None
    meta = obj.get("metadata")
    uid = meta.get("uid") if isinstance(meta, dict) else None
    version = meta.get("resourceVersion") if isinstance(meta, dict) else None
    if not isinstance(uid, str) or not isinstance(version, str) or not uid or not version:
        return None
    return kind, uid, version


@dataclass(frozen=True)
class Collected:
    """Desired endpoints of every selected object, the rejections, and which names each object claims."""

    endpoints: list[Endpoint]
    rejections: list[Rejection]
    claims: dict[ObjectRef, frozenset[str]]


def collect(
    cluster: Cluster, cfg: SourceConfig, sources: Sequence[str] = SOURCES, memo: CollectMemo | None = None
) -> Collected:
    """Run the sources over every object: merged within each source, exact repeats dropped.

    With a memo, an object unchanged since the last pass is not run again (see `CollectMemo`).
    """
    unknown = [source for source in sources if source not in KIND_OF_SOURCE]
    if unknown:
        raise ValueError(f"--source: unknown source {unknown[0]!r} (one of {', '.join(SOURCES)})")
    endpoints: list[Endpoint] = []
    rejections: list[Rejection] = []
    claims: dict[ObjectRef, frozenset[str]] = {}
    if memo is not None:
        memo.begin(cfg)
    for source in dict.fromkeys(sources):
        kind = KIND_OF_SOURCE[source]
        claimed: list[Endpoint] = []
        for obj in cluster.objects(kind):
            key = _key(kind, obj, cluster) if memo is not None else None
            result = memo.get(key) if memo is not None and key is not None else None
            if result is None:
                result = endpoints_for_object(kind, obj, cluster, cfg)
            if memo is not None and key is not None:
                memo.put(key, result)
            claimed += result.endpoints
            rejections += result.rejections
            claims[ObjectRef.of(kind, obj)] = frozenset(e.dns_name for e in result.endpoints)
        endpoints += merge_endpoints(claimed, across_ttls=source == "service")
    if memo is not None:
        memo.end()
    return Collected(dedupe_endpoints(endpoints), rejections, claims)


def endpoints_for(
    cluster: Cluster, cfg: SourceConfig, sources: Sequence[str] = SOURCES
) -> tuple[list[Endpoint], list[Rejection]]:
    """Desired endpoints of every selected object (see `collect`), and the rejections."""
    found = collect(cluster, cfg, sources)
    return found.endpoints, found.rejections
