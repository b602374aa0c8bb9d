"""Settings under ExternalDNS's flag and env names (`--txt-owner-id`, `EXTERNAL_DNS_TXT_OWNER_ID`)."""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BeforeValidator, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from extdns.domainfilter import DomainFilter
from extdns.plan import Policy
from extdns.sources import SOURCES, SourceConfig, parse_go_duration
from extdns.syncconfig import SyncConfig
from extdns.zone_guard import ZoneGuard, parse_namespace_domains


def _splitter(separators: str) -> Callable[[Any], Any]:
    """Split list values from env or flags on `separators`; a flag given twice adds its parts."""
    pattern = re.compile(separators)

    def split(value: Any) -> Any:
        if isinstance(value, str):
            return [part for part in pattern.split(value) if part]
        if isinstance(value, list):
            return [part for item in value for part in split(str(item))]
        return value

    return split


# Lists: `service ingress` or `service,ingress`.
StrList = Annotated[list[str], NoDecode, BeforeValidator(_splitter(r"[\s,]+"))]
# Map entries, whose values hold commas: `a=x,y;b=z` or `a=x,y b=z`.
EntryList = Annotated[list[str], NoDecode, BeforeValidator(_splitter(r"[\s;]+"))]


class SettingsError(ValueError):
    """A bad setting; the message is one line naming it."""


def _seconds(value: object) -> float:
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    try:
        return float(text) if re.fullmatch(r"\d+(\.\d+)?", text) else parse_go_duration(text) / 1e9
    except ValueError as e:
        raise ValueError(f"{text!r} is not a duration such as 15s or 1m ({e})") from None


class Settings(BaseSettings):
    """Every flag; each also read from `EXTERNAL_DNS_<FLAG>` (dashes as underscores), as ExternalDNS does."""

    model_config = SettingsConfigDict(env_prefix="EXTERNAL_DNS_", extra="ignore", frozen=True)

    # general
    source: StrList = Field(default_factory=lambda: ["service", "ingress"])
    provider: Literal["coredns", "skydns"] = "coredns"
    registry: Literal["txt"] = "txt"
    policy: Policy | None = None
    # kubernetes
    kubeconfig: str = ""
    server: str = ""
    kube_api_request_timeout: float = 30.0
    # scope and filters
    namespace: str = ""
    annotation_filter: str = ""
    label_filter: str = ""
    annotation_prefix: str = "external-dns.kubernetes.io/"
    service_type_filter: StrList = Field(default_factory=list)
    ingress_class: StrList = Field(default_factory=list)
    domain_filter: StrList = Field(default_factory=list)
    exclude_domains: StrList = Field(default_factory=list)
    regex_domain_filter: str = ""
    regex_domain_exclusion: str = ""
    managed_record_types: StrList = Field(default_factory=lambda: ["A", "AAAA", "CNAME"])
    # tenancy: NAMESPACE=DOMAIN[,DOMAIN...] entries; when set, an object claims only its namespace's domains
    namespace_domains: EntryList = Field(default_factory=list)
    # hostnames
    fqdn_template: str = ""
    combine_fqdn_annotation: bool = False
    ignore_hostname_annotation: bool = False
    ignore_ingress_tls_spec: bool = False
    ignore_ingress_rules_spec: bool = False
    publish_internal_services: bool = False
    publish_host_ip: bool = False
    always_publish_not_ready_addresses: bool = False
    exclude_unschedulable: bool = True
    min_ttl: float = 0.0
    # Gateway API route sources and the crd source
    gateway_name: str = ""
    gateway_namespace: str = ""
    gateway_label_filter: str = ""
    gateway_listener_sets: bool = False
    crd_source_apiversion: str = "externaldns.k8s.io/v1alpha1"
    crd_source_kind: str = "DNSEndpoint"
    # registry
    txt_owner_id: str = "default"
    txt_prefix: str = ""
    txt_suffix: str = ""
    txt_wildcard_replacement: str = ""
    # sync loop
    interval: float = 15.0
    resync_shards: int = Field(default=1, ge=1, le=256)  # the resync as N tasks, each planning 1/N
    once: bool = False
    dry_run: bool = False
    # coredns
    coredns_prefix: str = "/skydns/"
    coredns_strictly_owned: bool = False
    # observability
    metrics_address: str = ":7979"
    log_level: Literal["panic", "debug", "info", "warning", "error", "fatal"] = "info"
    log_format: Literal["text", "json"] = "text"
    events_emit: StrList = Field(default_factory=lambda: ["RecordError"])
    # emitter
    leader_election_namespace: str = "default"
    leader_election_lease: str = "extdns-emitter"
    leader_election_duration: float = 15.0
    emitter_batch_linger: float = 0.005
    emitter_batch_size: int = 256
    reconcile_batch: int = 255  # other waiting objects a reconcile task takes along (0 = only its own)
    # a "message on its way" mark older than this is taken as lost (its publisher died): publish again
    pending_expiry: float = 60.0
    # a watch silent (no event, no bookmark, no end) this long is hung: restarted, and /healthz fails
    watch_idle_timeout: float = 130.0

    @field_validator(
        "interval",
        "min_ttl",
        "kube_api_request_timeout",
        "leader_election_duration",
        "pending_expiry",
        "watch_idle_timeout",
        mode="before",
    )
    @classmethod
    def _duration(cls, value: Any) -> float:
        return _seconds(value)

    # ---------------------------------------------------------------- derived configs

    def sync_config(self) -> SyncConfig:
        if self.policy is None:
            raise SettingsError("--policy is required: sync, upsert-only or create-only")
        if self.txt_prefix and self.txt_suffix:
            raise SettingsError("--txt-prefix and --txt-suffix are mutually exclusive")
        return SyncConfig(
            owner_id=self.txt_owner_id,
            prefix=self.coredns_prefix,
            txt_prefix=self.txt_prefix,
            txt_suffix=self.txt_suffix,
            txt_wildcard_replacement=self.txt_wildcard_replacement,
            policy=self.policy,
            managed_record_types=frozenset(t.upper() for t in self.managed_record_types),
            domain_filter=self.domain_filters(),
            strictly_owned=self.coredns_strictly_owned,
        )

    def domain_filters(self) -> DomainFilter:
        """--domain-filter, --exclude-domains and the regex forms; a bad regex raises ValueError naming it."""
        return DomainFilter.from_flags(
            self.domain_filter, self.exclude_domains, self.regex_domain_filter, self.regex_domain_exclusion
        )

    def source_config(self) -> SourceConfig:
        unknown = sorted(set(self.source) - set(SOURCES))
        if unknown:
            raise SettingsError(f"--source: unsupported {', '.join(unknown)} ({', '.join(SOURCES)})")
        # Same names on both sides; lists become tuples, durations whole seconds.
        given: dict[str, Any] = {}
        for f in dataclasses.fields(SourceConfig):
            if f.init and f.name in Settings.model_fields:
                value = getattr(self, f.name)
                given[f.name] = tuple(value) if isinstance(value, list) else value
        given["min_ttl"] = int(self.min_ttl)
        given["fqdn_templates"] = tuple(t for t in self.fqdn_template.split(",") if t.strip())
        given["zone_guard"] = ZoneGuard(
            self.domain_filters(), parse_namespace_domains(self.namespace_domains)
        )
        return SourceConfig(**given)

    def validate_all(self) -> Settings:
        """Build every derived config once, so a bad combination fails at start-up."""
        try:
            self.sync_config()
            self.source_config()
        except SettingsError:
            raise
        except ValueError as e:
            raise SettingsError(str(e).splitlines()[0]) from None
        return self


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per setting; unset flags fall back to env, then the default."""
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        kwargs: dict[str, Any] = {"dest": name, "default": argparse.SUPPRESS}
        if annotation is bool:
            parser.add_argument(_flag(name), action=argparse.BooleanOptionalAction, **kwargs)
        elif get_origin(annotation) is Annotated or get_origin(annotation) is list:
            parser.add_argument(_flag(name), action="append", metavar="VALUE", **kwargs)
        else:
            choices = get_args(annotation) if get_origin(annotation) is Literal else None
            parser.add_argument(_flag(name), metavar="VALUE", choices=choices, **kwargs)


def load(args: argparse.Namespace | Mapping[str, Any] | None = None) -> Settings:
    """Settings from parsed flags over `EXTERNAL_DNS_*` env over defaults; SettingsError names a bad one."""
    given = dict(vars(args) if isinstance(args, argparse.Namespace) else (args or {}))
    try:
        settings = Settings(**{k: v for k, v in given.items() if k in Settings.model_fields})
    except ValidationError as e:
        err = e.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else "?"
        raise SettingsError(f"{_flag(name)}: {err['msg']} (got {err.get('input')!r})") from None
    return settings.validate_all()


def describe(settings: Settings, names: Sequence[str] = ()) -> str:
    """The config line ExternalDNS logs first."""
    data = settings.model_dump(include=set(names) or None)
    return "config: " + repr(data)
