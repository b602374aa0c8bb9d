"""Resync shards: each DNS name falls on one of N shards by a stable hash, with every key it rests on."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from extdns.endpoint import Endpoint
from extdns.skydns import key_to_name
from extdns.stored import KeyValue
from extdns.syncconfig import SyncConfig


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count`: the names whose hash falls on it. Shard 0 of 1 is every name."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index} of {self.count} does not exist")

    @property
    def whole(self) -> bool:
        return self.count == 1

    def holds(self, name: str) -> bool:
        """Whether this shard plans `name` (compared as the planner does: lower case, no final dot)."""
        return self.whole or shard_of(name, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index + 1}/{self.count}"


WHOLE = Shard()  # the unsharded resync


def shard_of(name: str, count: int) -> int:
    """The shard a name falls on: CRC-32 of its normal form, the same in every process and release."""
    return zlib.crc32(name.lower().removesuffix(".").encode()) % count


# A literal "targetstrip": N or "text" field (any case); a value with a \u escape may spell them so.
_TARGETSTRIP = re.compile(rb'"targetstrip"\s*:\s*(\d+)', re.IGNORECASE)
_TEXT = re.compile(rb'"text"', re.IGNORECASE)


def key_names(kv: KeyValue, cfg: SyncConfig) -> set[str]:
    """Every name a record key can bear on, without decoding its value.

    The record's name: the key's path less the labels its `targetstrip` strips (ExternalDNS writes 1
    under its random key labels); every parent when that cannot be told without decoding (a unicode
    escape in the value, which may spell a field name; several targetstrip fields). For a value with
    text, also the names an ownership TXT there could own (--txt-prefix/--txt-suffix, the wildcard
    replacement).
    """
    path = key_to_name(kv.key, cfg.prefix)
    if path is None:
        return set()
    labels = path.split(".")
    value = kv.value
    escaped = b"\\u" in value
    strips = [int(n) for n in _TARGETSTRIP.findall(value)] if not escaped else []
    if escaped or len(strips) > 1:
        depths: Iterable[int] = range(len(labels))
    else:
        depth = strips[0] if strips else 0
        depths = (depth if depth < len(labels) else 0,)  # too deep: rejected, told at the path name
    text = escaped or _TEXT.search(value) is not None
    out: set[str] = set()
    for depth in depths:
        name = ".".join(labels[depth:])
        out.add(name)
        if text:
            out.update(owned for owned, _ in cfg.mapper.owners_of(name))
    return out


@dataclass(frozen=True)
class ShardInput:
    """What one shard plans from: the keys its names rest on, its desired endpoints, and its names."""

    kvs: list[KeyValue]
    endpoints: list[Endpoint]
    names: frozenset[str]


def split(kvs: Sequence[KeyValue], desired: Iterable[Endpoint], cfg: SyncConfig, shard: Shard) -> ShardInput:
    """The part of a whole-prefix reading and of the desired endpoints that `shard` plans.

    A key is kept when any name it can bear on falls on the shard (so a name's records and its
    ownership TXTs are always read together; keys of other shards' names may come along as context,
    never planned). The names are every name of the shard that is desired or stored.
    """
    names: set[str] = set()
    kept: list[KeyValue] = []
    for kv in kvs:
        mine = {n for n in key_names(kv, cfg) if shard.holds(n)}
        if mine:
            kept.append(kv)
            names |= mine
    endpoints = [e for e in desired if shard.holds(e.dns_name)]
    names.update(e.dns_name.lower().removesuffix(".") for e in endpoints)
    return ShardInput(kept, endpoints, frozenset(names))
