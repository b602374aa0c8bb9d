"""SyncConfig: the coredns provider, TXT registry and plan settings a sync runs with."""

from __future__ import annotations

from dataclasses import dataclass, field

from extdns.domainfilter import MATCH_ALL, DomainFilter
from extdns.endpoint import DEFAULT_MANAGED_TYPES
from extdns.plan import Policy
from extdns.registry import TxtMapper
from extdns.skydns import DEFAULT_PREFIX, normalize_prefix

# What the etcd layout can hold: SRV, MX and NS need fields ExternalDNS's coredns provider never writes.
WRITABLE_TYPES = frozenset({"A", "AAAA", "CNAME", "TXT", "PTR"})


@dataclass(frozen=True)
class SyncConfig:
    """Settings under their ExternalDNS flag names; invalid combinations raise ValueError naming the flag.

    TTL handling is the provider's: an endpoint TTL of 0 is not written, so CoreDNS serves its 300 s
    default. With `strictly_owned` (--coredns-strictly-owned) every value carries `owner` and values
    of other owners are invisible.
    """

    owner_id: str = "default"
    prefix: str = DEFAULT_PREFIX
    txt_prefix: str = ""
    txt_suffix: str = ""
    txt_wildcard_replacement: str = ""
    policy: Policy = Policy.SYNC
    managed_record_types: frozenset[str] = DEFAULT_MANAGED_TYPES
    domain_filter: DomainFilter = MATCH_ALL
    strictly_owned: bool = False
    mapper: TxtMapper = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.owner_id:
            raise ValueError("--txt-owner-id must not be empty")
        managed = frozenset(record_type.upper() for record_type in self.managed_record_types)
        unsupported = sorted(managed - WRITABLE_TYPES)
        if unsupported:
            raise ValueError(
                f"--managed-record-types: the coredns provider cannot write {', '.join(unsupported)}"
            )
        object.__setattr__(self, "managed_record_types", managed)
        object.__setattr__(self, "prefix", normalize_prefix(self.prefix))
        object.__setattr__(
            self, "mapper", TxtMapper(self.txt_prefix, self.txt_suffix, self.txt_wildcard_replacement)
        )

    @property
    def value_owner(self) -> str:
        """The `owner` field written into values: our id in strictly-owned mode, else none."""
        return self.owner_id if self.strictly_owned else ""
