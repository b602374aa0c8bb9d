"""In-memory mirror of the etcd records: keys in byte order for subtree ranges, values decoded once."""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable
from dataclasses import dataclass

from extdns.addresses import canonical_address
from extdns.skydns import DecodeError, Service, decode_service, host_type

DEFAULT_TTL = 300
DEFAULT_PRIORITY = 10


@dataclass(frozen=True, slots=True)
class Entry:
    """One decoded record with CoreDNS's serving defaults applied (ttl 0 -> 300, priority 0 -> 10)."""

    key: str
    svc: Service
    kind: str  # "A", "AAAA", "CNAME" (name host) or "TXT" (no host, or name host with text)
    ip: str  # canonical address for A/AAAA, else ""
    ttl: int
    priority: int

    @property
    def depth(self) -> int:
        return self.key.count("/")


def make_entry(key: str, raw: bytes) -> Entry | DecodeError:
    """Decode one etcd value into an Entry, or say why it cannot be served."""
    svc = decode_service(raw)
    if isinstance(svc, DecodeError):
        return svc
    kind = host_type(svc) if svc.host else "TXT"
    ip = canonical_address(svc.host) if kind in ("A", "AAAA") else ""
    return Entry(key, svc, kind, ip, svc.ttl or DEFAULT_TTL, svc.priority or DEFAULT_PRIORITY)


class Index:
    """Sorted keys plus a dict of entries; a key whose value is bad maps to None (it still exists)."""

    def __init__(self) -> None:
        self._keys: list[str] = []
        self._data: dict[str, Entry | None] = {}

    def __len__(self) -> int:
        return len(self._data)

    @classmethod
    def build(cls, items: Iterable[tuple[str, bytes]]) -> tuple[Index, list[tuple[str, str]]]:
        """An index of all items, plus (key, reason) for each value that could not be decoded."""
        idx = cls()
        bad: list[tuple[str, str]] = []
        for key, raw in items:
            e = make_entry(key, raw)
            if isinstance(e, DecodeError):
                bad.append((key, e.reason))
                idx._data[key] = None
            else:
                idx._data[key] = e
        idx._keys = sorted(idx._data, key=_order)
        return idx, bad

    def put(self, key: str, raw: bytes) -> str | None:
        """Insert or replace a key; returns the decode problem, if any."""
        e = make_entry(key, raw)
        if key not in self._data:
            insort(self._keys, key, key=_order)
        if isinstance(e, DecodeError):
            self._data[key] = None
            return e.reason
        self._data[key] = e
        return None

    def delete(self, key: str) -> bool:
        if key not in self._data:
            return False
        del self._data[key]
        i = bisect_left(self._keys, _order(key), key=_order)
        if i < len(self._keys) and self._keys[i] == key:
            del self._keys[i]
        return True

    def exact(self, key: str) -> tuple[bool, Entry | None]:
        """(key exists, its entry or None when the value is bad)."""
        if key in self._data:
            return True, self._data[key]
        return False, None

    def subtree(self, prefix: str) -> tuple[bool, list[Entry]]:
        """(any key starts with prefix, the good entries in etcd byte order)."""
        keys = self._keys
        i = bisect_left(keys, _order(prefix), key=_order)
        found = False
        out: list[Entry] = []
        data = self._data
        while i < len(keys) and keys[i].startswith(prefix):
            found = True
            e = data[keys[i]]
            if e is not None:
                out.append(e)
            i += 1
        return found, out

    def items(self) -> Iterable[tuple[str, Entry | None]]:
        return ((k, self._data[k]) for k in self._keys)


def _order(key: str) -> bytes:
    """etcd orders keys by their bytes."""
    return key.encode("utf-8", "surrogateescape")
