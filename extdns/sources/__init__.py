"""Sources: the DNS names Kubernetes objects (Services, Ingresses, routes, DNSEndpoints) claim, pure."""

from extdns.sources.annotations import DEFAULT_PREFIX, LEGACY_PREFIX, AnnotationReader, split_hostnames
from extdns.sources.cluster import Cluster, World
from extdns.sources.collect import endpoints_for, endpoints_for_object
from extdns.sources.config import SERVICE_TYPES, SOURCES, SourceConfig
from extdns.sources.crd import DNS_ENDPOINT_KIND, dns_endpoint_endpoints
from extdns.sources.durations import parse_go_duration, parse_ttl
from extdns.sources.endpoint_builder import ObjectResult
from extdns.sources.gateway import ROUTE_KINDS, route_endpoints, route_gateways
from extdns.sources.ingress import ingress_endpoints
from extdns.sources.manifests import ManifestError, load_manifests
from extdns.sources.merge import dedupe_endpoints, merge_endpoints
from extdns.sources.objects import ObjectRef, Rejection
from extdns.sources.output import endpoint_to_dict, endpoints_table, endpoints_to_json
from extdns.sources.selectors import Selector, SelectorError, parse_selector
from extdns.sources.service import service_endpoints
from extdns.sources.template import FqdnTemplate, TemplateError, parse_fqdn_templates

__all__ = [
    "DEFAULT_PREFIX",
    "DNS_ENDPOINT_KIND",
    "LEGACY_PREFIX",
    "ROUTE_KINDS",
    "SERVICE_TYPES",
    "SOURCES",
    "AnnotationReader",
    "Cluster",
    "FqdnTemplate",
    "ManifestError",
    "ObjectRef",
    "ObjectResult",
    "Rejection",
    "Selector",
    "SelectorError",
    "SourceConfig",
    "TemplateError",
    "World",
    "dedupe_endpoints",
    "dns_endpoint_endpoints",
    "endpoint_to_dict",
    "endpoints_for",
    "endpoints_for_object",
    "endpoints_table",
    "endpoints_to_json",
    "ingress_endpoints",
    "load_manifests",
    "merge_endpoints",
    "parse_fqdn_templates",
    "parse_go_duration",
    "parse_selector",
    "parse_ttl",
    "route_endpoints",
    "route_gateways",
    "service_endpoints",
    "split_hostnames",
]
