"""The external-dns annotations of an object, read under the configured prefix and its older/newer twin."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from extdns.sources.durations import parse_ttl

__all__ = [
    "DEFAULT_PREFIX",
    "LEGACY_PREFIX",
    "Access",
    "AnnotationReader",
    "EndpointsType",
    "HostnameSource",
    "annotation_prefixes",
    "split_hostnames",
]

DEFAULT_PREFIX = "external-dns.kubernetes.io/"
LEGACY_PREFIX = "external-dns.alpha.kubernetes.io/"

HOSTNAME = "hostname"
INTERNAL_HOSTNAME = "internal-hostname"
TARGET = "target"
TTL = "ttl"
CONTROLLER = "controller"
ACCESS = "access"
ENDPOINTS_TYPE = "endpoints-type"
INGRESS_HOSTNAME_SOURCE = "ingress-hostname-source"
SET_IDENTIFIER = "set-identifier"
CORE_DNS_PROPERTY_PREFIX = "coredns-"

E = TypeVar("E", bound=StrEnum)


class Access(StrEnum):
    """`access` on a NodePort Service: which node addresses to publish."""

    DEFAULT = ""
    PUBLIC = "public"
    PRIVATE = "private"


class EndpointsType(StrEnum):
    """`endpoints-type` on a headless Service: what a pod's record points at."""

    DEFAULT = ""
    NODE_EXTERNAL_IP = "NodeExternalIP"
    HOST_IP = "HostIP"


class HostnameSource(StrEnum):
    """`ingress-hostname-source` on an Ingress: which hostnames count."""

    ALL = ""
    DEFINED_HOSTS_ONLY = "defined-hosts-only"
    ANNOTATION_ONLY = "annotation-only"


def annotation_prefixes(prefix: str) -> tuple[str, ...]:
    """The prefixes read, first wins: both standard ones (the configured one first), or only a custom one."""
    standard = (DEFAULT_PREFIX, LEGACY_PREFIX)
    if prefix in standard:
        return (prefix, *(p for p in standard if p != prefix))
    return (prefix,)


def split_hostnames(value: str) -> list[str]:
    """A comma-separated list with every space removed, one trailing dot stripped, empties dropped."""
    cleaned = "".join(value.split())
    return [item.removesuffix(".") for item in cleaned.split(",") if item.removesuffix(".")]


@dataclass(frozen=True)
class Setting:
    """One parsed annotation value, with the problem found when the raw text was unusable."""

    value: str
    problem: str = ""


class AnnotationReader:
    """Typed access to the external-dns annotations of one object."""

    def __init__(self, annotations: Mapping[str, str], prefix: str = DEFAULT_PREFIX) -> None:
        self._annotations = annotations
        self._prefixes = annotation_prefixes(prefix)

    def get(self, key: str) -> str | None:
        """The raw value under the first prefix that has `key`, else None."""
        for prefix in self._prefixes:
            value = self._annotations.get(prefix + key)
            if value is not None:
                return value
        return None

    def key(self, key: str) -> str:
        """The full annotation name holding `key` (for messages), the configured prefix when absent."""
        for prefix in self._prefixes:
            if prefix + key in self._annotations:
                return prefix + key
        return self._prefixes[0] + key

    def _list(self, key: str) -> list[str]:
        value = self.get(key)
        return split_hostnames(value) if value else []

    def hostnames(self) -> list[str]:
        return self._list(HOSTNAME)

    def internal_hostnames(self) -> list[str]:
        return self._list(INTERNAL_HOSTNAME)

    def targets(self) -> list[str]:
        return self._list(TARGET)

    def controller(self) -> str | None:
        return self.get(CONTROLLER)

    def ttl(self) -> tuple[int, str]:
        """The TTL in seconds (0 when unset) and, when the value is unusable, why it was ignored."""
        value = self.get(TTL)
        if value is None:
            return 0, ""
        try:
            return parse_ttl(value.strip()), ""
        except ValueError as exc:
            return 0, f"annotation {self.key(TTL)}={value!r} ignored: {exc}"

    def access(self) -> tuple[Access, str]:
        return self._enum(ACCESS, Access, Access.DEFAULT)

    def endpoints_type(self) -> tuple[EndpointsType, str]:
        return self._enum(ENDPOINTS_TYPE, EndpointsType, EndpointsType.DEFAULT)

    def hostname_source(self) -> tuple[HostnameSource, str]:
        return self._enum(INGRESS_HOSTNAME_SOURCE, HostnameSource, HostnameSource.ALL, fold_case=True)

    def _enum(self, key: str, enum: type[E], default: E, fold_case: bool = False) -> tuple[E, str]:
        """The value as a member of `enum`; an unknown value gives `default` and the problem."""
        value = self.get(key)
        if not value:
            return default, ""
        try:
            return enum(value.strip().lower() if fold_case else value.strip()), ""
        except ValueError:
            allowed = ", ".join(member.value for member in enum if member.value)
            return default, f"annotation {self.key(key)}={value!r} ignored: expected one of {allowed}"

    def set_identifier(self) -> str:
        return (self.get(SET_IDENTIFIER) or "").strip()

    def provider_specific(self) -> dict[str, str]:
        """`coredns-<x>` annotations as `coredns/<x>` properties (`coredns-group` is the record's group).

        Other providers' properties (aws-, cloudflare-, ...) are dropped, as ExternalDNS does for coredns.
        """
        found: dict[str, str] = {}
        for prefix in reversed(self._prefixes):
            for name, value in self._annotations.items():
                if name.startswith(prefix + CORE_DNS_PROPERTY_PREFIX):
                    suffix = name[len(prefix + CORE_DNS_PROPERTY_PREFIX) :]
                    if suffix:
                        found[f"coredns/{suffix}"] = value
        return found
