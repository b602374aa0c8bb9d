"""In-memory mirror of the etcd records: keys in byte order for subtree ranges, values decoded once."""

from __future__ import annotations

import ipaddress
import struct
from bisect import bisect_left, insort
from collections.abc import Callable, Iterable, Iterator
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
    ready: Ready | None = None  # the A, AAAA or TXT answer record it gives, packed once

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
    ttl = svc.ttl or DEFAULT_TTL
    return Entry(key, svc, kind, ip, ttl, svc.priority or DEFAULT_PRIORITY, _ready(kind, ip, ttl, svc.text))


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


def _ready(kind: str, ip: str, ttl: int, text: str) -> Ready | None:
    if kind == "A":
        return Ready(T_A, ttl, ipaddress.IPv4Address(ip).packed)
    if kind == "AAAA":
        return Ready(T_AAAA, ttl, ipaddress.IPv6Address(ip).packed)
    if kind == "TXT" and text:
        return Ready(T_TXT, ttl, b"".join(bytes([len(s)]) + s for s in text_strings(text)))
    return None


def _value(cls: int, e: Entry) -> str | None:
    """An entry's part in one answer of a rollup: its host or text (deduplicated), "" to chase, None."""
    kind = e.kind
    if kind == "CNAME":
        return ""
    if (cls == T_A and kind == "A") or (cls == T_AAAA and kind == "AAAA"):
        return e.svc.host
    if cls == T_TXT and kind == "TXT" and e.svc.text:
        return e.svc.text
    return None


class _Ordered:
    """One answer of a rollup in key order: the first key of each distinct value, and every chase key.

    It holds keys only (the records are the index's); a value held by several keys remembers how many.
    """

    def __init__(self, cls: int, rescan: Callable[[int, str, str], str]) -> None:
        self.cls = cls
        self.rescan = rescan  # (class, value, leaving key) -> the first other key below the name holding it
        self.keys: list[str] = []  # item keys in etcd byte order
        self.first: dict[str, str] = {}  # value -> its first key
        self.more: dict[str, int] = {}  # value -> keys holding it beyond the first

    def _insert(self, key: str) -> None:
        keys = self.keys
        if not keys or _order(keys[-1]) < _order(key):
            keys.append(key)  # building in key order: no search
        else:
            insort(keys, key, key=_order)

    def _remove(self, key: str) -> None:
        del self.keys[bisect_left(self.keys, _order(key), key=_order)]

    def add(self, key: str, e: Entry) -> None:
        value = _value(self.cls, e)
        if value is None:
            return
        if value == "":
            self._insert(key)
            return
        first = self.first.get(value)
        if first is None:
            self.first[value] = key
            self._insert(key)
            return
        self.more[value] = self.more.get(value, 0) + 1
        if _order(key) < _order(first):
            self._remove(first)
            self.first[value] = key
            self._insert(key)

    def discard(self, key: str, e: Entry) -> None:
        value = _value(self.cls, e)
        if value is None:
            return
        if value == "":
            self._remove(key)
            return
        more = self.more.get(value, 0)
        if more:
            if more == 1:
                del self.more[value]
            else:
                self.more[value] = more - 1
        if self.first[value] != key:
            return
        self._remove(key)
        if not more:
            del self.first[value]
            return
        # The first of several holders went: find the next one (a scan, only in this case).
        nxt = self.rescan(self.cls, value, key)
        self.first[value] = nxt
        self._insert(nxt)


class Rollup:
    """The whole-subtree answers of one name (a domain apex, `*.name`) kept ready as the index changes.

    CoreDNS answers these from every record below the name: deduplicated A, AAAA and TXT records in
    key order, with name hosts chased as CNAMEs at their place. Rebuilding that per query costs the
    subtree's size; here each change costs a few dict and list operations and a query walks only what
    it returns. Records with a `group` make the answer depend on all of them at once: while any
    exists below the name, `grouped` is set and the caller answers the slow way.
    """

    def __init__(self, path: str, index: Index) -> None:
        self.path = path
        self.below = path + "/"
        self.index = index
        self.keys = 0  # keys below the path, good or bad
        self.grouped = 0
        self.weights: dict[int, int] = {}  # priority -> SRV weight total of the records with a host
        self.mail = 0  # records with a host and `mail` (MX candidates)
        self.answers = {cls: _Ordered(cls, self._rescan) for cls in (T_A, T_AAAA, T_TXT)}

    def _rescan(self, cls: int, value: str, leaving: str) -> str:
        # `leaving` was the first holder, so the next one comes after it: deleting holders in key
        # order (etcdctl del --prefix does) finds each next one at once.
        for e in self.index.iter_below(self.below, leaving):
            if e.key != leaving and _value(cls, e) == value:
                return e.key
        raise AssertionError(f"rollup {self.path}: no key holds {value!r} any more")

    def add(self, key: str, e: Entry | None) -> None:
        self.keys += 1
        if e is None:
            return
        if e.svc.group:
            self.grouped += 1
        if e.svc.host:
            self.weights[e.priority] = self.weights.get(e.priority, 0) + (e.svc.weight or 100)
            self.mail += e.svc.mail
        for ordered in self.answers.values():
            ordered.add(key, e)

    def discard(self, key: str, e: Entry | None) -> None:
        """Called before the key leaves the index (or is replaced in it)."""
        self.keys -= 1
        if e is None:
            return
        if e.svc.group:
            self.grouped -= 1
        if e.svc.host:
            self.mail -= e.svc.mail
            left = self.weights[e.priority] - (e.svc.weight or 100)
            if left:
                self.weights[e.priority] = left
            else:
                del self.weights[e.priority]
        for ordered in self.answers.values():
            ordered.discard(key, e)

    def walk(self, cls: int) -> Iterator[Entry]:
        """The entries of one answer in order: a first holder (use its `ready`) or a name to chase."""
        data = self.index._data
        for key in self.answers[cls].keys:
            e = data[key]
            if e is not None:
                yield e


class Index:
    """Sorted keys plus a dict of entries; a key whose value is bad maps to None (it still exists)."""

    def __init__(self) -> None:
        self._keys: list[str] = []
        self._data: dict[str, Entry | None] = {}
        self._rollups: dict[str, Rollup] = {}

    def iter_below(self, prefix: str, start: str = "") -> Iterator[Entry]:
        """The good entries whose keys start with `prefix` (from key `start` on), in key order, lazily."""
        keys, data = self._keys, self._data
        i = bisect_left(keys, _order(max(prefix, start, key=_order)), key=_order)
        while i < len(keys) and keys[i].startswith(prefix):
            e = data[keys[i]]
            if e is not None:
                yield e
            i += 1

    def has_below(self, prefix: str, n: int) -> bool:
        """Whether at least n keys start with `prefix`: one binary search, then a look n keys on."""
        keys = self._keys
        i = bisect_left(keys, _order(prefix), key=_order) + n - 1
        return i < len(keys) and keys[i].startswith(prefix)

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
            r = Rollup(path, self)
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
