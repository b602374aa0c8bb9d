"""Zone guard: names no object may claim (CoreDNS's reserved `dns` label) or its namespace may not."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from extdns.domainfilter import MATCH_ALL, DomainFilter
from extdns.names import InvalidName, normalize_name

__all__ = ["ALL_NAMESPACES", "RESERVED", "TENANCY", "Refusal", "ZoneGuard", "parse_namespace_domains"]

RESERVED = "reserved"  # the rule refusing names under a zone's `dns` label
TENANCY = "namespace"  # the rule refusing names outside the object's namespace domains
ALL_NAMESPACES = "*"  # the --namespace-domains entry every namespace may claim
RESERVED_LABEL = "dns"
# The subtrees CoreDNS reads a zone's own answers from: `apex.dns.<zone>` (apex) and `ns.dns.<zone>` (NS).
COREDNS_SUBTREES = {"apex": "apex", "ns": "NS"}
FLAG = "--namespace-domains"
_NAMESPACE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a name is refused: the rule (`reserved` or `namespace`) and a reason naming the name."""

    rule: str
    reason: str


def _bare(domain: str) -> str:
    return domain.strip().removesuffix(".").lower()


def _coredns_subtree(labels: list[str]) -> str | None:
    """The reason a name sits in a zone's `apex.dns` or `ns.dns` subtree, whatever the zone; else None."""
    for i in range(1, len(labels)):
        answers = COREDNS_SUBTREES.get(labels[i - 1])
        if labels[i] == RESERVED_LABEL and answers is not None:
            zone = ".".join(labels[i + 1 :]) or "."
            subtree = ".".join(labels[i - 1 :])
            return f"CoreDNS reads the {answers} records of zone {zone} from {subtree} and the names below it"
    return None


@dataclass(frozen=True)
class ZoneGuard:
    """Which names objects may claim; names outside `scope` (the domain filters) are not judged.

    Reserved: a name in any zone's `apex.dns` or `ns.dns` subtree, and with plain --domain-filter
    domains, `dns.<domain>` and every name below it. Tenancy (`namespace_domains`, off when None):
    a name must equal or lie under a domain of the object's namespace or of the `*` entry; a domain
    with a leading dot allows its subdomains only.
    """

    scope: DomainFilter = MATCH_ALL
    namespace_domains: Mapping[str, Iterable[str]] | None = field(default=None, hash=False)
    _zones: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _tenants: dict[str, DomainFilter] | None = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        zones = tuple(dict.fromkeys(d.removeprefix(".") for d in self.scope.domains))
        object.__setattr__(self, "_zones", zones)
        tenants = None
        if self.namespace_domains is not None:
            tenants = {ns: DomainFilter(domains=tuple(ds)) for ns, ds in self.namespace_domains.items()}
        object.__setattr__(self, "_tenants", tenants)

    def check(self, namespace: str, name: str) -> Refusal | None:
        """The refusal of `name` claimed by an object in `namespace`, or None when it may be written."""
        name = _bare(name)
        if not self.scope.matches(name):
            return None
        reason = _coredns_subtree(name.split("."))
        if reason is None:
            reason = self._reserved_label(name)
        if reason is not None:
            return Refusal(RESERVED, f"hostname {name} is reserved: {reason}")
        return self._tenancy(namespace, name)

    def _reserved_label(self, name: str) -> str | None:
        for zone in self._zones:
            label = f"{RESERVED_LABEL}.{zone}"
            if name == label or name.endswith("." + label):
                return f"CoreDNS keeps the records of zone {zone} itself under {label} and the names below it"
        return None

    def _tenancy(self, namespace: str, name: str) -> Refusal | None:
        if self._tenants is None:
            return None
        domains = [self._tenants.get(namespace), self._tenants.get(ALL_NAMESPACES)]
        allowed = [d for d in domains if d is not None and d.domains]
        if any(d.matches(name) for d in allowed):
            return None
        listed = ", ".join(dom for d in allowed for dom in d.domains) or "no domain"
        return Refusal(
            TENANCY, f"namespace {namespace!r} may not claim hostname {name}: {FLAG} allows {listed}"
        )


def _domain(namespace: str, text: str) -> str:
    domain = _bare(text)
    try:
        normalize_name(domain.removeprefix("."))
    except InvalidName as exc:
        raise ValueError(f"{FLAG}: domain {text!r} of namespace {namespace!r}: {exc}") from None
    return domain


def parse_namespace_domains(entries: Iterable[str]) -> dict[str, tuple[str, ...]] | None:
    """The map from `NAMESPACE=DOMAIN[,DOMAIN...]` entries (split on `;` and spaces); None without any.

    A namespace given twice gets the domains of both entries; `NAMESPACE=` claims nothing; `*=` lists
    domains every namespace may claim. A malformed entry raises ValueError naming the flag.
    """
    found: dict[str, list[str]] = {}
    for entry in (part for text in entries for part in re.split(r"[\s;]+", text) if part):
        namespace, sep, domains = entry.partition("=")
        if not sep or not (namespace == ALL_NAMESPACES or _NAMESPACE.match(namespace)):
            raise ValueError(
                f"{FLAG}: {entry!r} is not NAMESPACE=DOMAIN[,DOMAIN...] with a namespace name or *"
            )
        listed = found.setdefault(namespace, [])
        listed += [_domain(namespace, d) for d in domains.split(",") if d.strip()]
    return {ns: tuple(dict.fromkeys(ds)) for ns, ds in found.items()} if found else None
