"""Packed replies keyed by the query bytes after the ID, invalidated by the etcd keys they were built from.

One class serves two layers: the `cache` plugin (entries expire after the capped TTL) and the
engine's answer memo (entries never expire; they live until an etcd change touches what they read).
"""

from __future__ import annotations

import math
import struct
import time
from dataclasses import dataclass
from itertools import islice

MIN_TTL = 5
FOREVER = math.inf
MEMO_CAPACITY = 50_000
MAX_BYTES = 64 << 20  # bytes held at most, whatever the count (50,000 TCP replies of 64 KiB: 3 GiB)
NO_SERIAL = -1
SOA_TIMERS = struct.pack("!IIII", 7200, 1800, 86400, 30)  # what follows the serial in our SOA rdata


@dataclass(slots=True)
class CacheEntry:
    """A packed reply (ID replaced on use) for one query and its letter-case variants, and what it read."""

    query: bytes  # the query after its ID
    packed: bytes
    expires: float
    deps: tuple[str, ...]
    labels: tuple[str, ...]  # metric/log context chosen by the engine
    denial: bool
    serial_at: int = NO_SERIAL  # offset of an SOA serial to refresh with the clock on every use
    name_end: int = 0  # where the question name ends in `query`; 0: only the exact bytes match

    def matches(self, rest: bytes) -> bool:
        """The query after its ID is this one, or differs from it only in the letter case of its name."""
        if rest == self.query:
            return True
        end = self.name_end
        return end > 0 and rest[:10] == self.query[:10] and rest[end:] == self.query[end:]

    def reply(self, data: bytes) -> bytes:
        """The stored reply with the ID, and the question name's letter case, of `data`.

        A memo entry with an SOA also gets the serial of now.
        """
        packed = self.packed
        end = self.name_end + 2  # the question name sits at the same offsets in query and reply
        if end > 2 and data[12:end] != packed[12:end]:
            # Names in the records that point at the question (owners, mostly) follow its case.
            packed = packed[:12] + data[12:end] + packed[end:]
        if self.serial_at != NO_SERIAL:
            at = self.serial_at
            serial = struct.pack("!I", int(time.time()) & 0xFFFFFFFF)
            packed = packed[:at] + serial + packed[at + 4 :]
        return data[:2] + packed[2:]


def serial_offset(packed: bytes, serial: int, has_opt: bool) -> int:
    """Where the serial of a reply's last non-OPT record (an SOA) sits, or NO_SERIAL if it is not there."""
    at = len(packed) - (11 if has_opt else 0) - 20
    if at < 12 or packed[at : at + 20] != struct.pack("!I", serial & 0xFFFFFFFF) + SOA_TIMERS:
        return NO_SERIAL
    return at


class AnswerCache:
    """(proto, lower-cased query[2:]) -> reply; a change under a key path drops every entry that read it.

    The key folds letter case, and a hit may differ from the stored query in the case of its name
    only: a resolver randomising case (0x20), or an attacker doing so to bust the cache, gets the
    stored answer with its own spelling of the question instead of a fresh lookup.
    """

    def __init__(self, capacity: int = 9984, max_bytes: int = MAX_BYTES) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes
        self.bytes = 0
        self.entries: dict[tuple[str, bytes], CacheEntry] = {}
        self.by_dep: dict[str, set[tuple[str, bytes]]] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, proto: str, data: bytes, now: float) -> CacheEntry | None:
        rest = data[2:]
        key = (proto, rest.lower())
        e = self.entries.get(key)
        if e is None:
            return None
        if e.expires <= now:
            self._drop(key)
            return None
        return e if e.matches(rest) else None

    def put(self, proto: str, data: bytes, entry: CacheEntry) -> None:
        key = (proto, data[2:].lower())
        if key in self.entries:
            self._drop(key)
        size = len(entry.packed) + len(entry.query)
        while self.entries and (len(self.entries) >= self.capacity or self.bytes + size > self.max_bytes):
            # Evict the oldest eighth at once: dropping one at a time from the front of a dict rescans
            # its deleted slots on every insert, which made a full table the slowest path of all.
            for old in list(islice(self.entries, max(1, len(self.entries) // 8))):
                self._drop(old)
        self.entries[key] = entry
        self.bytes += size
        for d in entry.deps:
            self.by_dep.setdefault(d, set()).add(key)

    def _drop(self, key: tuple[str, bytes]) -> None:
        e = self.entries.pop(key, None)
        if e is None:
            return
        self.bytes -= len(e.packed) + len(e.query)
        for d in e.deps:
            s = self.by_dep.get(d)
            if s is not None:
                s.discard(key)
                if not s:
                    del self.by_dep[d]

    def invalidate_key(self, key: str) -> int:
        """Drop entries that read `key` itself or any of its ancestors (subtree reads); returns the count."""
        dropped = 0
        parts = key.split("/")
        for i in range(1, len(parts) + 1):
            path = "/".join(parts[:i])
            for ck in list(self.by_dep.get(path, ())):
                self._drop(ck)
                dropped += 1
        return dropped

    def clear(self) -> None:
        self.entries.clear()
        self.by_dep.clear()
        self.bytes = 0
