"""SourceConfig: every flag the sources read, validated once, errors naming the flag."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from extdns.sources.annotations import DEFAULT_PREFIX
from extdns.sources.selectors import Selector, SelectorError, parse_selector
from extdns.sources.template import FqdnTemplate, TemplateError, parse_fqdn_templates
from extdns.zone_guard import ZoneGuard

__all__ = [
    "CRD_API_VERSION",
    "CRD_KIND",
    "DEFAULT_CONTROLLER",
    "INGRESS_CLASS_ANNOTATION",
    "SERVICE_TYPES",
    "SOURCES",
    "SourceConfig",
]

SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
SOURCES = (
    "service",
    "ingress",
    "gateway-httproute",
    "gateway-grpcroute",
    "gateway-tlsroute",
    "gateway-tcproute",
    "gateway-udproute",
    "crd",
)
CRD_API_VERSION = "externaldns.k8s.io/v1alpha1"
CRD_KIND = "DNSEndpoint"
# A Kubernetes namespace name (RFC 1123 label) and object name (RFC 1123 subdomain).
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
DEFAULT_CONTROLLER = "dns-controller"
INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"


@dataclass(frozen=True)
class SourceConfig:
    """Source flags under their ExternalDNS names; an invalid value raises ValueError naming the flag.

    `gateway_name`, `gateway_namespace` and `gateway_label_filter` narrow the Gateways the route sources
    attach to; `gateway_listener_sets` lets routes attach through ListenerSets. `crd_source_apiversion`
    and `crd_source_kind` name the DNSEndpoint type (only the default is read). `min_ttl` is --min-ttl
    in whole seconds (0: off). `controller` is the value the `controller`
    annotation must have for an object to be ours. `exclude_unschedulable` and `expose_internal_ipv6`
    are --exclude-unschedulable (default true) and --expose-internal-ipv6. `zone_guard` refuses
    reserved names and, with --namespace-domains, names outside a namespace's domains. The parsed
    selectors and template are derived fields, built once here.
    """

    namespace: str = ""
    annotation_filter: str = ""
    label_filter: str = ""
    service_type_filter: tuple[str, ...] = ()
    ingress_class: tuple[str, ...] = ()
    fqdn_templates: tuple[str, ...] = ()
    combine_fqdn_annotation: bool = False
    ignore_hostname_annotation: bool = False
    publish_internal_services: bool = False
    publish_host_ip: bool = False
    always_publish_not_ready_addresses: bool = False
    ignore_ingress_tls_spec: bool = False
    ignore_ingress_rules_spec: bool = False
    exclude_unschedulable: bool = True
    expose_internal_ipv6: bool = False
    resolve_service_load_balancer_hostname: bool = False
    gateway_name: str = ""
    gateway_namespace: str = ""
    gateway_label_filter: str = ""
    gateway_listener_sets: bool = False
    crd_source_apiversion: str = CRD_API_VERSION
    crd_source_kind: str = CRD_KIND
    min_ttl: int = 0
    annotation_prefix: str = DEFAULT_PREFIX
    controller: str = DEFAULT_CONTROLLER
    zone_guard: ZoneGuard = field(default_factory=ZoneGuard)
    label_selector: Selector = field(init=False, repr=False, compare=False)
    annotation_selector: Selector = field(init=False, repr=False, compare=False)
    gateway_label_selector: Selector = field(init=False, repr=False, compare=False)
    fqdn_template: FqdnTemplate | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("service_type_filter", "ingress_class", "fqdn_templates"):
            object.__setattr__(self, name, _cleaned(getattr(self, name)))
        self._check_service_types()
        self._check_flags()
        self._check_gateway_and_crd_flags()
        object.__setattr__(self, "label_selector", _selector("--label-filter", self.label_filter))
        object.__setattr__(
            self, "annotation_selector", _selector("--annotation-filter", self.annotation_filter)
        )
        object.__setattr__(
            self, "gateway_label_selector", _selector("--gateway-label-filter", self.gateway_label_filter)
        )
        if self.ingress_class and any(
            requirement.key == INGRESS_CLASS_ANNOTATION
            for requirement in self.annotation_selector.requirements
        ):
            raise ValueError(
                f"--ingress-class and an --annotation-filter on {INGRESS_CLASS_ANNOTATION} exclude each other"
            )
        try:
            object.__setattr__(self, "fqdn_template", parse_fqdn_templates(self.fqdn_templates))
        except TemplateError as exc:
            raise ValueError(f"--fqdn-template: {exc}") from exc

    def _check_service_types(self) -> None:
        unknown = [kind for kind in self.service_type_filter if kind not in SERVICE_TYPES]
        if unknown:
            raise ValueError(
                f"--service-type-filter: unknown type {unknown[0]!r} (one of {', '.join(SERVICE_TYPES)})"
            )

    def _check_flags(self) -> None:
        if self.ignore_hostname_annotation and not self.fqdn_templates:
            raise ValueError("--ignore-hostname-annotation requires --fqdn-template")
        if not self.annotation_prefix.endswith("/"):
            raise ValueError(f"--annotation-prefix {self.annotation_prefix!r} must end with '/'")
        if self.min_ttl < 0:
            raise ValueError(f"--min-ttl must not be negative, got {self.min_ttl}")
        if self.resolve_service_load_balancer_hostname:
            raise ValueError("--resolve-service-load-balancer-hostname is not supported: targets stay CNAMEs")

    def _check_gateway_and_crd_flags(self) -> None:
        if self.gateway_namespace and not _DNS_LABEL.fullmatch(self.gateway_namespace):
            raise ValueError(f"--gateway-namespace {self.gateway_namespace!r} is not a valid namespace name")
        if self.gateway_name and not _DNS_SUBDOMAIN.fullmatch(self.gateway_name):
            raise ValueError(f"--gateway-name {self.gateway_name!r} is not a valid Gateway name")
        if self.crd_source_apiversion != CRD_API_VERSION:
            version = self.crd_source_apiversion
            raise ValueError(f"--crd-source-apiversion {version!r} is not supported: only {CRD_API_VERSION}")
        if self.crd_source_kind != CRD_KIND:
            raise ValueError(f"--crd-source-kind {self.crd_source_kind!r} is not supported: only {CRD_KIND}")

    def service_type_selected(self, service_type: str) -> bool:
        return not self.service_type_filter or service_type in self.service_type_filter


def _cleaned(values: tuple[str, ...] | list[str] | str) -> tuple[str, ...]:
    items = (values,) if isinstance(values, str) else tuple(values)
    return tuple(item.strip() for item in items if item.strip())


def _selector(flag: str, text: str) -> Selector:
    try:
        return parse_selector(text)
    except SelectorError as exc:
        raise ValueError(f"{flag}: {exc}") from exc
