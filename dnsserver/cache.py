"""Packed answers keyed by the query bytes after the ID, invalidated by the etcd keys they were built from."""

from __future__ import annotations

import time
from dataclasses import dataclass

MIN_TTL = 5


@dataclass(slots=True)
class CacheEntry:
    """A packed reply (ID bytes included but replaced on use) and what it was built from."""

    packed: bytes
    expires: float
    deps: tuple[str, ...]
    labels: tuple[str, ...]  # metric/log context chosen by the engine
    denial: bool


class AnswerCache:
    """Dict of (proto, query[2:]) -> reply; a change under a key path drops every entry that read it."""

    def __init__(self, capacity: int = 9984) -> None:
        self.capacity = capacity
        self.entries: dict[tuple[str, bytes], CacheEntry] = {}
        self.by_dep: dict[str, set[tuple[str, bytes]]] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, proto: str, data: bytes, now: float) -> CacheEntry | None:
        e = self.entries.get((proto, data[2:]))
        if e is None:
            return None
        if e.expires <= now:
            self._drop((proto, data[2:]))
            return None
        return e

    def put(self, proto: str, data: bytes, entry: CacheEntry) -> None:
        key = (proto, data[2:])
        if key in self.entries:
            self._drop(key)
        while len(self.entries) >= self.capacity:
            self._drop(next(iter(self.entries)))
        self.entries[key] = entry
        for d in entry.deps:
            self.by_dep.setdefault(d, set()).add(key)

    def _drop(self, key: tuple[str, bytes]) -> None:
        e = self.entries.pop(key, None)
        if e is None:
            return
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


def monotonic() -> float:
    return time.monotonic()
