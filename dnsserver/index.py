"""In-memory mirror of the etcd records: keys in byte order for subtree ranges, values decoded once."""

from __future__ import annotations

import ipaddress
import struct
from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

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


T_A, T_TXT, T_AAAA = 1, 16, 28
MAX_ROLLUPS = 256  # names whose subtree answers are kept ready at once
POINTER_TO_QUESTION = b"\xc0\x0c"  # the question's name starts right after the 12-byte header


@dataclass(frozen=True, slots=True)
class Ready:
    """One answer record packed once, owned by the question's name (whatever its letter case)."""

    rtype: int
    ttl: int
    rdata: bytes

    def pack(self, buf: Any) -> None:
        """Append to a dnslib DNSBuffer whose question starts at offset 12."""
        buf.append(
            POINTER_TO_QUESTION + struct.pack("!HHIH", self.rtype, 1, self.ttl, len(self.rdata)) + self.rdata
        )

    def with_ttl(self, ttl: int) -> Ready:
        return Ready(self.rtype, ttl, self.rdata)


def text_strings(text: str) -> list[bytes]:
    """A TXT value as character-strings of at most 255 bytes (an exact multiple ends with an empty one)."""
    b = text.encode()
    if len(b) < 255:
        return [b]
    out = [b[i : i + 255] for i in range(0, len(b), 255)]
    if len(b) % 255 == 0:
        out.append(b"")
    return out


def _ready(e: Entry) -> Ready:
    if e.kind == "A":
        return Ready(T_A, e.ttl, ipaddress.IPv4Address(e.ip).packed)
    if e.kind == "AAAA":
        return Ready(T_AAAA, e.ttl, ipaddress.IPv6Address(e.ip).packed)
    return Ready(T_TXT, e.ttl, b"".join(bytes([len(s)]) + s for s in text_strings(e.svc.text)))


class _Ordered:
    """One answer of a rollup in key order: the first key of each distinct value, and every chase key."""

    def __init__(self) -> None:
        self.keys: list[str] = []  # item keys in etcd byte order
        self.items: dict[str, Ready | None] = {}  # item key -> its record; None: a name to chase (CNAME)
        self.first: dict[str, str] = {}  # value -> its first key
        self.holders: dict[str, dict[str, Ready]] = {}  # value -> every key holding it, with its record
        self.value_of: dict[str, str] = {}

    def _insert(self, key: str, rec: Ready | None) -> None:
        insort(self.keys, key, key=_order)
        self.items[key] = rec

    def _remove(self, key: str) -> None:
        del self.items[key]
        i = bisect_left(self.keys, _order(key), key=_order)
        del self.keys[i]

    def add(self, key: str, value: str | None, rec: Ready | None) -> None:
        if value is None or rec is None:
            self._insert(key, None)
            return
        self.value_of[key] = value
        self.holders.setdefault(value, {})[key] = rec
        first = self.first.get(value)
        if first is None or _order(key) < _order(first):
            if first is not None:
                self._remove(first)
            self.first[value] = key
            self._insert(key, rec)

    def discard(self, key: str) -> None:
        value = self.value_of.pop(key, None)
        if value is None:
            if key in self.items:
                self._remove(key)
            return
        holders = self.holders[value]
        del holders[key]
        if self.first[value] != key:
            return
        self._remove(key)
        if not holders:
            del self.holders[value], self.first[value]
            return
        nxt = min(holders, key=_order)  # only when the first holder of a shared value goes
        self.first[value] = nxt
        self._insert(nxt, holders[nxt])

    def __iter__(self) -> Iterator[tuple[str, Ready | None]]:
        items = self.items
        return ((k, items[k]) for k in self.keys)


class Rollup:
    """The whole-subtree answers of one name (a zone apex, `*.zone`) kept ready as the index changes.

    CoreDNS answers these from every record below the name: deduplicated A, AAAA and TXT records in
    key order, with name hosts chased as CNAMEs at their place. Rebuilding that per query costs the
    zone's size; here each change costs a few dict and list operations and a query walks only what
    it returns. Records with a `group` make the answer depend on all of them at once: while any
    exists below the name, `grouped` is set and the caller answers the slow way.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.below = path + "/"
        self.keys = 0  # keys below the path, good or bad
        self.grouped = 0
        self.answers = {T_A: _Ordered(), T_AAAA: _Ordered(), T_TXT: _Ordered()}

    def add(self, key: str, e: Entry | None) -> None:
        self.keys += 1
        if e is None:
            return
        if e.svc.group:
            self.grouped += 1
        kind = e.kind
        if kind == "CNAME":
            for ordered in self.answers.values():
                ordered.add(key, None, None)
        elif kind == "A" or kind == "AAAA":
            self.answers[T_A if kind == "A" else T_AAAA].add(key, e.svc.host, _ready(e))
        if kind == "TXT" and e.svc.text:
            self.answers[T_TXT].add(key, e.svc.text, _ready(e))

    def discard(self, key: str, e: Entry | None) -> None:
        self.keys -= 1
        if e is None:
            return
        if e.svc.group:
            self.grouped -= 1
        for ordered in self.answers.values():
            ordered.discard(key)


class Index:
    """Sorted keys plus a dict of entries; a key whose value is bad maps to None (it still exists)."""

    def __init__(self) -> None:
        self._keys: list[str] = []
        self._data: dict[str, Entry | None] = {}
        self._rollups: dict[str, Rollup] = {}

    def count_below(self, prefix: str) -> int:
        """How many keys start with `prefix` (which ends with '/'), in two binary searches."""
        keys = self._keys
        lo = bisect_left(keys, _order(prefix), key=_order)
        hi = bisect_left(keys, _order(prefix[:-1] + "0"), key=_order)  # '0' follows '/' in byte order
        return hi - lo

    def rollup(self, path: str) -> Rollup:
        """The kept-ready answers below `path`: built on first use, then updated with every change.

        At most MAX_ROLLUPS are kept; the least recently used goes first.
        """
        r = self._rollups.pop(path, None)
        if r is not None:
            self._rollups[path] = r  # most recently used last
            return r
        if len(self._rollups) >= MAX_ROLLUPS:
            del self._rollups[next(iter(self._rollups))]
        if r is None:
            r = Rollup(path)
            keys, data = self._keys, self._data
            i = bisect_left(keys, _order(r.below), key=_order)
            while i < len(keys) and keys[i].startswith(r.below):
                r.add(keys[i], data[keys[i]])
                i += 1
            self._rollups[path] = r
        return r

    def _rolled(self, key: str) -> list[Rollup]:
        return [r for r in self._rollups.values() if key.startswith(r.below)]

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
        rollups = self._rolled(key) if self._rollups else []
        if key not in self._data:
            insort(self._keys, key, key=_order)
        else:
            for r in rollups:
                r.discard(key, self._data[key])
        good = None if isinstance(e, DecodeError) else e
        self._data[key] = good
        for r in rollups:
            r.add(key, good)
        return e.reason if isinstance(e, DecodeError) else None

    def delete(self, key: str) -> bool:
        if key not in self._data:
            return False
        if self._rollups:
            for r in self._rolled(key):
                r.discard(key, self._data[key])
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
