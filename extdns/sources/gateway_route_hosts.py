"""A route's candidate hostnames: spec, --fqdn-template, annotation, as `gateway-hostname-source` says."""

from __future__ import annotations

from extdns.sources.endpoint_builder import RecordBuilder
from extdns.sources.gateway_hosts import gateway_host
from extdns.sources.objects import KubeObject, as_str, list_at

__all__ = ["GATEWAY_HOSTNAME_SOURCE", "KINDS_WITH_HOSTNAMES", "route_hosts"]

GATEWAY_HOSTNAME_SOURCE = "gateway-hostname-source"
ANNOTATION_ONLY = "annotation-only"
DEFINED_HOSTS_ONLY = "defined-hosts-only"
# TCPRoute and UDPRoute have no `spec.hostnames`.
KINDS_WITH_HOSTNAMES = frozenset({"HTTPRoute", "GRPCRoute", "TLSRoute"})


def route_hosts(kind: str, route: KubeObject, builder: RecordBuilder) -> list[str]:
    """The hosts to match against listeners; "" stands for "whatever the listener's hostname is".

    `spec.hostnames`, plus the --fqdn-template names when there are none (or always, with
    --combine-fqdn-annotation); then, unless `gateway-hostname-source` says otherwise, "" when the spec
    has no hostnames and the `hostname` annotation's names. A name that is no valid domain is rejected.
    """
    cfg = builder.cfg
    spec = _spec_hostnames(route) if kind in KINDS_WITH_HOSTNAMES else []
    defined = list(spec)
    if cfg.fqdn_template is not None and (not spec or cfg.combine_fqdn_annotation):
        defined += builder.template_hostnames()
    annotated = [] if cfg.ignore_hostname_annotation else builder.annotations.hostnames()
    source = builder.annotations.get(GATEWAY_HOSTNAME_SOURCE)
    choice = (source or "").strip().lower()
    if source is not None and choice == ANNOTATION_ONLY:
        hosts = annotated
    elif source is not None and choice == DEFINED_HOSTS_ONLY:
        hosts = defined
    else:
        if source is not None:
            builder.reject(
                f"annotation {builder.annotations.key(GATEWAY_HOSTNAME_SOURCE)}={source!r} ignored: "
                f"expected one of {ANNOTATION_ONLY}, {DEFINED_HOSTS_ONLY}"
            )
        hosts = defined + ([""] if not spec else []) + annotated
    return _valid(list(dict.fromkeys(hosts)), builder)


def _spec_hostnames(route: KubeObject) -> list[str]:
    return [text for text in (as_str(h) for h in list_at(route, "spec", "hostnames")) if text]


def _valid(hosts: list[str], builder: RecordBuilder) -> list[str]:
    kept: list[str] = []
    for host in hosts:
        if gateway_host(host) is None:
            builder.reject(f"invalid hostname {host!r}: not a DNS-1123 domain name")
        else:
            kept.append(host)
    return kept
