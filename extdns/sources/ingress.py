"""The ingress source: an Ingress's rule, TLS and annotation hosts pointed at its load balancer."""

from __future__ import annotations

from extdns.sources.annotations import HostnameSource
from extdns.sources.config import INGRESS_CLASS_ANNOTATION, SourceConfig
from extdns.sources.endpoint_builder import ObjectResult, RecordBuilder, unique
from extdns.sources.objects import KubeObject, ObjectRef, annotations_of, list_at, str_at
from extdns.sources.scope import in_scope

__all__ = ["INGRESS_KIND", "ingress_class_selected", "ingress_endpoints"]

INGRESS_KIND = "Ingress"


def ingress_class_selected(ingress: KubeObject, cfg: SourceConfig) -> bool:
    """--ingress-class against a non-empty `spec.ingressClassName`, else the legacy class annotation."""
    if not cfg.ingress_class:
        return True
    class_name = str_at(ingress, "spec", "ingressClassName")
    if not class_name:
        class_name = annotations_of(ingress).get(INGRESS_CLASS_ANNOTATION, "")
    return class_name in cfg.ingress_class


def ingress_endpoints(ingress: KubeObject, cfg: SourceConfig) -> ObjectResult:
    """The endpoints one Ingress claims (unmerged), and what was rejected in it."""
    result = ObjectResult()
    if not in_scope(ingress, cfg) or not ingress_class_selected(ingress, cfg):
        return result
    builder = RecordBuilder(ObjectRef.of(INGRESS_KIND, ingress), ingress, cfg, result)
    targets = builder.annotations.targets() or _status_targets(ingress)
    endpoints = [ep for host in _hostnames(ingress, builder) for ep in builder.endpoints(host, targets)]
    if cfg.fqdn_template is not None and (cfg.combine_fqdn_annotation or not endpoints):
        templated = [ep for host in builder.template_hostnames() for ep in builder.endpoints(host, targets)]
        endpoints = endpoints + templated if cfg.combine_fqdn_annotation else templated
    result.endpoints = endpoints
    return result


def _hostnames(ingress: KubeObject, builder: RecordBuilder) -> list[str]:
    """Rule and TLS hosts and the hostname annotation, narrowed by flags and `ingress-hostname-source`."""
    cfg = builder.cfg
    source, problem = builder.annotations.hostname_source()
    builder.reject(problem)
    defined: list[str] = []
    if not cfg.ignore_ingress_rules_spec:
        defined += [str_at(rule, "host") for rule in list_at(ingress, "spec", "rules")]
    if not cfg.ignore_ingress_tls_spec:
        for tls in list_at(ingress, "spec", "tls"):
            defined += [host for host in list_at(tls, "hosts") if isinstance(host, str)]
    annotated = [] if cfg.ignore_hostname_annotation else builder.annotations.hostnames()
    chosen = {
        HostnameSource.ALL: defined + annotated,
        HostnameSource.DEFINED_HOSTS_ONLY: defined,
        HostnameSource.ANNOTATION_ONLY: annotated,
    }[source]
    return unique(chosen)


def _status_targets(ingress: KubeObject) -> list[str]:
    """Every `status.loadBalancer.ingress[]` ip and hostname."""
    targets: list[str] = []
    for entry in list_at(ingress, "status", "loadBalancer", "ingress"):
        targets += [str_at(entry, "ip"), str_at(entry, "hostname")]
    return unique(targets)
