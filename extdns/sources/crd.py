"""The crd source: the records a DNSEndpoint (`externaldns.k8s.io/v1alpha1`) declares in `spec.endpoints`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extdns.endpoint import RESOURCE_LABEL, Endpoint
from extdns.names import InvalidName, normalize_name
from extdns.sources.config import SourceConfig
from extdns.sources.endpoint_builder import ObjectResult
from extdns.sources.objects import KubeObject, ObjectRef, Rejection, as_str, list_at, map_at
from extdns.sources.scope import in_scope
from extdns.syncconfig import WRITABLE_TYPES

__all__ = ["DNS_ENDPOINT_KIND", "dns_endpoint_endpoints"]

DNS_ENDPOINT_KIND = "DNSEndpoint"
PROVIDER_PREFIX = "coredns/"
# Types whose targets are names that may be written absolute (with a final dot) or not.
_NAME_TARGET_TYPES = frozenset({"CNAME", "DNAME"})
# Types whose targets ExternalDNS does not check for a final dot.
_FREE_TARGET_TYPES = frozenset({"TXT", "MX", "SRV"})


def dns_endpoint_endpoints(obj: KubeObject, cfg: SourceConfig) -> ObjectResult:
    """Each usable `spec.endpoints[]` entry as an Endpoint labelled `crd/<ns>/<name>`; the others rejected.

    --namespace, --label-filter and --annotation-filter select DNSEndpoints as ExternalDNS does; the
    `controller` annotation does not apply to them.
    """
    result = ObjectResult()
    if not in_scope(obj, cfg, check_controller=False):
        return result
    ref = ObjectRef.of(DNS_ENDPOINT_KIND, obj)
    for index, entry in enumerate(list_at(obj, "spec", "endpoints")):
        if not isinstance(entry, Mapping):
            continue
        built = _endpoint(ref, entry, cfg)
        if isinstance(built, Endpoint):
            result.endpoints.append(built)
        else:
            name = as_str(entry.get("dnsName")) or "(no dnsName)"
            where = f"spec.endpoints[{index}] {name} {as_str(entry.get('recordType')) or ''}".rstrip()
            result.rejections.append(Rejection(ref, f"{where}: {built}"))
    return result


def _endpoint(ref: ObjectRef, entry: Mapping[str, Any], cfg: SourceConfig) -> Endpoint | str:
    """The entry as an Endpoint, or why it is skipped."""
    record_type = as_str(entry.get("recordType")) or ""
    if record_type not in WRITABLE_TYPES:
        supported = ", ".join(sorted(WRITABLE_TYPES))
        return f"record type {record_type!r} is not supported by the coredns provider ({supported})"
    try:
        name = normalize_name(as_str(entry.get("dnsName")) or "")
    except InvalidName as exc:
        return f"invalid dnsName: {exc}"
    targets = entry.get("targets") or []
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        return "targets must be a list of strings"
    problem = _target_problem(record_type, targets)
    if problem:
        return problem
    if not targets:
        return "no targets (--default-targets is not supported)"
    ttl = entry.get("recordTTL") or 0
    if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 0:
        return f"recordTTL {ttl!r} is not a non-negative integer"
    labels = {str(k): v for k, v in map_at(entry, "labels").items() if isinstance(v, str)}
    return Endpoint(
        name,
        record_type,
        tuple(targets),
        ttl or cfg.min_ttl,
        as_str(entry.get("setIdentifier")) or "",
        {**labels, RESOURCE_LABEL: ref.resource},
        _provider_specific(entry),
    )


def _target_problem(record_type: str, targets: list[str]) -> str:
    """ExternalDNS's format rule: no final dot on an address or PTR target (names of CNAME may have one)."""
    if record_type in _NAME_TARGET_TYPES or record_type in _FREE_TARGET_TYPES:
        return ""
    dotted = next((target for target in targets if target.endswith(".")), None)
    if dotted is None:
        return ""
    return f"illegal target {dotted!r} for {record_type}: use {dotted.removesuffix('.')!r}"


def _provider_specific(entry: Mapping[str, Any]) -> dict[str, str]:
    """`providerSpecific[]` name/value pairs of the coredns provider (`coredns/...`); others are dropped."""
    found: dict[str, str] = {}
    for prop in list_at(entry, "providerSpecific"):
        if isinstance(prop, Mapping):
            name, value = as_str(prop.get("name")) or "", as_str(prop.get("value")) or ""
            if name.startswith(PROVIDER_PREFIX):
                found[name] = value
    return found
