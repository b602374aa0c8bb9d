"""Turning (hostname, targets) of one object into validated Endpoints, collecting what had to be rejected."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from extdns.addresses import address_type
from extdns.endpoint import RESOURCE_LABEL, Endpoint
from extdns.names import InvalidName, normalize_name
from extdns.sources.annotations import AnnotationReader
from extdns.sources.config import SourceConfig
from extdns.sources.objects import KubeObject, ObjectRef, Rejection, annotations_of
from extdns.sources.template import TemplateError

__all__ = ["ObjectResult", "RecordBuilder", "unique"]


@dataclass
class ObjectResult:
    """What one object claims: its endpoints and the problems found in it."""

    endpoints: list[Endpoint] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


def unique(items: Iterable[str]) -> list[str]:
    """The items without repeats, first occurrence kept, empties dropped."""
    return list(dict.fromkeys(item for item in items if item))


class RecordBuilder:
    """Builds one object's endpoints with its TTL, group and set identifier; rejects bad names and targets."""

    def __init__(self, ref: ObjectRef, obj: KubeObject, cfg: SourceConfig, result: ObjectResult) -> None:
        self.ref = ref
        self.obj = obj
        self.cfg = cfg
        self.annotations = AnnotationReader(annotations_of(obj), cfg.annotation_prefix)
        self.result = result
        self._ttl: int | None = None
        self._provider_specific = self.annotations.provider_specific()
        self._set_identifier = self.annotations.set_identifier()

    @property
    def ttl(self) -> int:
        """The `ttl` annotation in seconds, 0 when unset or unusable (rejected once, on first use)."""
        if self._ttl is None:
            self._ttl, problem = self.annotations.ttl()
            self.reject(problem)
        return self._ttl

    def reject(self, reason: str) -> None:
        if reason:
            self.result.rejections.append(Rejection(self.ref, reason))

    def template_hostnames(self) -> list[str]:
        """The --fqdn-template names for this object; a field it cannot evaluate is a rejection."""
        template = self.cfg.fqdn_template
        if template is None:
            return []
        try:
            return template.hostnames(self.obj, self.ref.kind)
        except TemplateError as exc:
            self.reject(f"--fqdn-template {template.text!r} failed: {exc}")
            return []

    def hostname(self, text: str) -> str | None:
        """The normalised hostname, or None after rejecting it."""
        try:
            return normalize_name(text)
        except InvalidName as exc:
            self.reject(f"invalid hostname: {exc}")
            return None

    def endpoints(self, hostname: str, targets: Iterable[str]) -> list[Endpoint]:
        """Up to three endpoints (A, AAAA, CNAME), each holding all targets of its type, as ExternalDNS."""
        name = self.hostname(hostname)
        if name is None:
            return []
        by_type: dict[str, list[str]] = {"A": [], "AAAA": [], "CNAME": []}
        for target in unique(targets):
            record_type = address_type(target)
            if record_type is None:
                record_type, target = "CNAME", self._target_name(name, target) or ""
            if target:
                by_type[record_type].append(target)
        return [self.endpoint(name, rtype, found) for rtype, found in by_type.items() if found]

    def _target_name(self, hostname: str, target: str) -> str | None:
        try:
            return normalize_name(target)
        except InvalidName as exc:
            self.reject(f"invalid target for {hostname}: {exc}")
            return None

    def endpoint(self, name: str, record_type: str, targets: Iterable[str]) -> Endpoint:
        """One endpoint of this object, with its TTL (or --min-ttl), labels and properties."""
        ttl = self.ttl or self.cfg.min_ttl
        labels: Mapping[str, str] = {RESOURCE_LABEL: self.ref.resource}
        return Endpoint(
            name, record_type, tuple(targets), ttl, self._set_identifier, labels, self._provider_specific
        )
