"""The service source: the names a Service claims and their targets, by Service type, as ExternalDNS."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from extdns.addresses import address_type
from extdns.endpoint import Endpoint
from extdns.sources.annotations import Access, AnnotationReader, EndpointsType
from extdns.sources.cluster import Cluster
from extdns.sources.config import SourceConfig
from extdns.sources.endpoint_builder import ObjectResult, RecordBuilder, unique
from extdns.sources.objects import (
    KubeObject,
    ObjectRef,
    annotations_of,
    as_str,
    list_at,
    map_at,
    name_of,
    str_at,
)
from extdns.sources.scope import in_scope

__all__ = ["SERVICE_KIND", "service_endpoints", "service_type"]

SERVICE_KIND = "Service"
CLUSTER_IP_NONE = "None"


def service_type(service: KubeObject) -> str:
    """`spec.type`, defaulting to ClusterIP as the API server does."""
    return str_at(service, "spec", "type") or "ClusterIP"


def service_endpoints(service: KubeObject, cluster: Cluster, cfg: SourceConfig) -> ObjectResult:
    """The endpoints one Service claims (unmerged), and what was rejected in it."""
    result = ObjectResult()
    if not in_scope(service, cfg) or not cfg.service_type_selected(service_type(service)):
        return result
    builder = RecordBuilder(ObjectRef.of(SERVICE_KIND, service), service, cfg, result)
    records = _ServiceRecords(service, cluster, builder)
    endpoints: list[Endpoint] = []
    if not cfg.ignore_hostname_annotation:
        for hostname in builder.annotations.hostnames():
            endpoints += records.for_hostname(hostname, internal=False)
        for hostname in builder.annotations.internal_hostnames():
            endpoints += records.for_hostname(hostname, internal=True)
    if cfg.fqdn_template is not None and (cfg.combine_fqdn_annotation or not endpoints):
        templated = [ep for name in builder.template_hostnames() for ep in records.for_hostname(name, False)]
        endpoints = endpoints + templated if cfg.combine_fqdn_annotation else templated
    result.endpoints = endpoints
    return result


class _ServiceRecords:
    """The records of one Service for one hostname; the `target` annotation overrides the type's targets."""

    def __init__(self, service: KubeObject, cluster: Cluster, builder: RecordBuilder) -> None:
        self.service = service
        self.spec = map_at(service, "spec")
        self.cluster = cluster
        self.builder = builder
        self.cfg = builder.cfg
        self.namespace = builder.ref.namespace

    def for_hostname(self, hostname: str, internal: bool) -> list[Endpoint]:
        override = self.builder.annotations.targets()
        if override:
            return self.builder.endpoints(hostname, override)
        match service_type(self.service):
            case "LoadBalancer":
                targets = self._cluster_ip() if internal else self._load_balancer_targets()
            case "ClusterIP" if self._headless():
                return self._headless_endpoints(hostname)
            case "ClusterIP":
                targets = self._cluster_ip() if internal or self.cfg.publish_internal_services else []
            case "NodePort":
                return self.builder.endpoints(hostname, self._node_port_targets()) + self._srv(hostname)
            case "ExternalName":
                targets = self._strings(self.spec.get("externalIPs")) or [str_at(self.spec, "externalName")]
            case _:
                targets = []
        return self.builder.endpoints(hostname, targets)

    @staticmethod
    def _strings(values: Any) -> list[str]:
        items = values if isinstance(values, list) else []
        return [text for text in (as_str(item) for item in items) if text]

    def _headless(self) -> bool:
        return str_at(self.spec, "clusterIP") == CLUSTER_IP_NONE

    def _cluster_ip(self) -> list[str]:
        cluster_ip = str_at(self.spec, "clusterIP")
        return [cluster_ip] if cluster_ip and cluster_ip != CLUSTER_IP_NONE else []

    def _load_balancer_targets(self) -> list[str]:
        external_ips = self._strings(self.spec.get("externalIPs"))
        if external_ips:
            return external_ips
        targets: list[str] = []
        for entry in list_at(self.service, "status", "loadBalancer", "ingress"):
            targets += [str_at(entry, "ip"), str_at(entry, "hostname")]
        return [target for target in targets if target]

    # --- headless ---------------------------------------------------------------------------------------

    def _headless_endpoints(self, hostname: str) -> list[Endpoint]:
        """`<hostname>` with every published pod's target, and `<pod hostname>.<hostname>` with its own."""
        name = self.builder.hostname(hostname)
        if name is None:
            return []
        endpoints_type, problem = self.builder.annotations.endpoints_type()
        self.builder.reject(problem)
        by_domain: dict[str, list[str]] = {}
        for pod, address in self._published_pods():
            targets = self._pod_targets(pod, address, endpoints_type)
            pod_hostname = str_at(pod, "spec", "hostname")
            for domain in [name] + ([f"{pod_hostname}.{name}"] if pod_hostname else []):
                by_domain.setdefault(domain, []).extend(targets)
        return [
            ep for domain in sorted(by_domain) for ep in self.builder.endpoints(domain, by_domain[domain])
        ]

    def _published_pods(self) -> Iterable[tuple[KubeObject, str]]:
        """(pod, first address) of each EndpointSlice endpoint that is ready or may be published unready."""
        not_ready_too = (
            bool(self.spec.get("publishNotReadyAddresses")) or self.cfg.always_publish_not_ready_addresses
        )
        pods = {name_of(pod): pod for pod in self.cluster.pods_matching(self.namespace, self._selector())}
        for endpoint_slice in self.cluster.endpoint_slices_for(self.namespace, self.builder.ref.name):
            for entry in list_at(endpoint_slice, "endpoints"):
                ready = map_at(entry, "conditions").get("ready")
                if ready is not None and not ready and not not_ready_too:
                    continue
                target_ref = map_at(entry, "targetRef")
                pod = pods.get(str_at(target_ref, "name"))
                addresses = self._strings(list_at(entry, "addresses"))
                if str_at(target_ref, "kind") == "Pod" and pod is not None and addresses:
                    yield pod, addresses[0]

    def _selector(self) -> dict[str, str]:
        return {
            str(key): text for key, value in map_at(self.spec, "selector").items() if (text := as_str(value))
        }

    def _pod_targets(self, pod: KubeObject, address: str, endpoints_type: EndpointsType) -> list[str]:
        """The pod's `target` annotation, else node ExternalIPs, else the host IP, else its slice address."""
        override = AnnotationReader(annotations_of(pod), self.cfg.annotation_prefix).targets()
        if override:
            return override
        if endpoints_type is EndpointsType.NODE_EXTERNAL_IP:
            node = self.cluster.node(str_at(pod, "spec", "nodeName"))
            external, _, internal_v6 = _node_addresses([node] if node is not None else [])
            return external + (internal_v6 if self.cfg.expose_internal_ipv6 else [])
        if endpoints_type is EndpointsType.HOST_IP or self.cfg.publish_host_ip:
            host_ip = str_at(pod, "status", "hostIP")
            return [host_ip] if host_ip else []
        return [address]

    # --- NodePort ---------------------------------------------------------------------------------------

    def _node_port_targets(self) -> list[str]:
        """Node addresses chosen by the `access` annotation (ExternalIPs when any exist, else InternalIPs)."""
        access, problem = self.builder.annotations.access()
        self.builder.reject(problem)
        external, internal, internal_v6 = _node_addresses(self._node_port_nodes())
        public = external + (internal_v6 if self.cfg.expose_internal_ipv6 else [])
        if access is Access.PUBLIC:
            return public
        if access is Access.PRIVATE:
            return internal
        return public if external else internal

    def _node_port_nodes(self) -> list[KubeObject]:
        if str_at(self.spec, "externalTrafficPolicy") == "Local":
            return self._nodes_running_pods()
        nodes = self.cluster.nodes
        if self.cfg.exclude_unschedulable:
            return [node for node in nodes if not map_at(node, "spec").get("unschedulable")]
        return list(nodes)

    def _nodes_running_pods(self) -> list[KubeObject]:
        """Nodes running a pod of the Service, best tier first: ready and not terminating, ready, running."""
        tiers: tuple[dict[str, KubeObject], ...] = ({}, {}, {})
        for pod in self.cluster.pods_matching(self.namespace, self._selector()):
            node = self.cluster.node(str_at(pod, "spec", "nodeName"))
            if node is None or str_at(pod, "status", "phase") != "Running":
                continue
            serving, ready, running = tiers
            running[name_of(node)] = node
            if _pod_ready(pod):
                ready[name_of(node)] = node
                if not map_at(pod, "metadata").get("deletionTimestamp"):
                    serving[name_of(node)] = node
        return list(next((tier for tier in tiers if tier), {}).values())

    def _srv(self, hostname: str) -> list[Endpoint]:
        """SRV `_<service>._<proto>.<hostname>` → `0 50 <nodePort> <hostname>.` per nodePort."""
        name = self.builder.hostname(hostname)
        if name is None:
            return []
        endpoints: list[Endpoint] = []
        for port in list_at(self.spec, "ports"):
            node_port = port.get("nodePort") if isinstance(port, Mapping) else None
            if not isinstance(node_port, int) or isinstance(node_port, bool) or node_port <= 0:
                continue
            protocol = (str_at(port, "protocol") or "TCP").lower()
            record = self.builder.hostname(f"_{self.builder.ref.name}._{protocol}.{name}")
            if record is not None:
                endpoints.append(self.builder.endpoint(record, "SRV", [f"0 50 {node_port} {name}."]))
        return endpoints


def _pod_ready(pod: KubeObject) -> bool:
    conditions = list_at(pod, "status", "conditions")
    return any(str_at(c, "type") == "Ready" and str_at(c, "status") == "True" for c in conditions)


def _node_addresses(nodes: Iterable[KubeObject]) -> tuple[list[str], list[str], list[str]]:
    """(ExternalIPs, InternalIPs, IPv6 InternalIPs) of the nodes, without repeats."""
    external: list[str] = []
    internal: list[str] = []
    for node in nodes:
        for entry in list_at(node, "status", "addresses"):
            kind, address = str_at(entry, "type"), str_at(entry, "address")
            if kind == "ExternalIP":
                external.append(address)
            elif kind == "InternalIP":
                internal.append(address)
    internal_v6 = [address for address in internal if address_type(address) == "AAAA"]
    return unique(external), unique(internal), unique(internal_v6)
