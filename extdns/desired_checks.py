"""Checking desired endpoints before planning: bad ones are rejected with a reason, the rest normalised."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from extdns.addresses import address_type
from extdns.endpoint import RECORD_TYPES, Endpoint
from extdns.key_layout import uses_exact_key
from extdns.names import InvalidName, is_reverse_name, name_problem, normalize_name
from extdns.registry import parse_labels, storable_label
from extdns.rejected import Rejected
from extdns.syncconfig import SyncConfig

MAX_TTL = 2**31 - 1


def describe(endpoint: Endpoint) -> str:
    """Name an endpoint in a log line: its name, type and the resource that asked for it."""
    origin = f" from {endpoint.resource}" if endpoint.resource else ""
    return f"endpoint {endpoint.dns_name!r} {endpoint.record_type}{origin}"


def validate_desired(endpoints: Iterable[Endpoint], cfg: SyncConfig) -> tuple[list[Endpoint], list[Rejected]]:
    """Return the usable endpoints (names normalised) and a Rejected entry for each one skipped or trimmed.

    Endpoints of unmanaged record types pass through untouched; the planner ignores them.
    """
    accepted: list[Endpoint] = []
    rejected: list[Rejected] = []
    for endpoint in endpoints:
        if endpoint.record_type not in cfg.managed_record_types:
            accepted.append(endpoint)
            continue
        checked = _check(endpoint, cfg)
        if isinstance(checked, str):
            rejected.append(Rejected(describe(endpoint), checked))
            continue
        if uses_exact_key(checked.dns_name) and len(checked.targets) > 1:
            rejected.append(
                Rejected(
                    describe(endpoint),
                    f"a reverse name holds one target; kept "
                    f"{checked.targets[0]!r}, dropped {', '.join(checked.targets[1:])}",
                )
            )
            checked = replace(checked, targets=checked.targets[:1])
        unstorable = [key for key, value in checked.labels.items() if not storable_label(key, value)]
        if unstorable:
            rejected.extend(
                Rejected(
                    describe(endpoint),
                    f"label {key!r}={checked.labels[key]!r} would not read back as written from the"
                    " ownership TXT record; dropped",
                )
                for key in unstorable
            )
            checked = replace(
                checked, labels={k: v for k, v in checked.labels.items() if k not in unstorable}
            )
        accepted.append(checked)
    return accepted, rejected


def _check(endpoint: Endpoint, cfg: SyncConfig) -> Endpoint | str:
    """Return the normalised endpoint, or the reason it cannot be published."""
    try:
        name = normalize_name(endpoint.dns_name)
    except InvalidName as exc:
        return str(exc)
    if endpoint.record_type not in RECORD_TYPES:
        return f"unsupported record type {endpoint.record_type!r}"
    if endpoint.set_identifier:
        return f"set identifier {endpoint.set_identifier!r} is not supported by the coredns provider"
    if not isinstance(endpoint.ttl, int) or not 0 <= endpoint.ttl <= MAX_TTL:
        return f"TTL {endpoint.ttl!r} is not an integer in 0..{MAX_TTL}"
    if not endpoint.targets:
        return "no targets"
    if endpoint.record_type == "PTR" and not is_reverse_name(name):
        return "PTR records need a name under in-addr.arpa or ip6.arpa"
    for target in endpoint.targets:
        problem = _target_problem(endpoint.record_type, target)
        if problem is not None:
            return problem
    txt_name = cfg.mapper.txt_name(name, endpoint.record_type)
    problem = name_problem(txt_name)
    if problem is not None:
        return f"its ownership TXT record cannot be named: {problem}"
    return endpoint if name == endpoint.dns_name else replace(endpoint, dns_name=name)


def _target_problem(record_type: str, target: str) -> str | None:
    kind = address_type(target)
    if record_type in ("A", "AAAA"):
        return None if kind == record_type else f"target {target!r} is not an {record_type} address"
    if record_type == "TXT":
        return "TXT target is ExternalDNS ownership text" if parse_labels(target) is not None else None
    if kind is not None:
        return f"{record_type} target {target!r} is an IP address"
    try:
        normalize_name(target)
    except InvalidName as exc:
        return f"{record_type} target: {exc}"
    return None
