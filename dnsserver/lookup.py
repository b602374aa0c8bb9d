"""Pure CoreDNS etcd-plugin answers: (question, index) -> rcode and sections, rule for rule."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeAlias

from dnslib import AAAA, CNAME, MX, NS, PTR, QTYPE, RR, SOA, SRV, TXT, A, DNSLabel

from dnsserver.index import Entry, Index, Ready, Rollup, text_strings
from extdns.skydns import key_to_name, name_to_key

NOERROR, SERVFAIL, NXDOMAIN = 0, 2, 3
T_A, T_NS, T_CNAME, T_SOA, T_PTR, T_MX, T_TXT, T_AAAA, T_SRV = (
    QTYPE.A,
    QTYPE.NS,
    QTYPE.CNAME,
    QTYPE.SOA,
    QTYPE.PTR,
    QTYPE.MX,
    QTYPE.TXT,
    QTYPE.AAAA,
    QTYPE.SRV,
)
T_HINFO, T_ANY = 13, 255
MAX_CNAME_CHAIN = 10
ROLLUP_MIN = 32  # records below a name from which its answers are kept ready rather than gathered
MIN_RECORD = 13  # bytes of the smallest answer record (owner pointer, header, one-byte rdata)
SOA_TTL = 30
RFC8482_TTL = 8482

Record: TypeAlias = "RR | Ready"  # an answer record: built for this query, or kept ready in the index
# (name, qtype) -> (answer records, truncated) of a re-entry into the whole server, None if no reply at all
Upstream = Callable[[str, int], "tuple[list[Record], bool] | None"]


class NameError_(Exception):
    """No key exists for the name: NXDOMAIN (or fallthrough)."""


class BackendError(Exception):
    """A lookup that cannot be answered (e.g. an NS record with a name host): SERVFAIL."""


@dataclass
class Result:
    """What the etcd plugin produces for one question."""

    rcode: int
    answer: list[Record] = field(default_factory=list)
    authority: list[RR] = field(default_factory=list)
    additional: list[Record] = field(default_factory=list)
    fallthrough: bool = False
    truncated: bool = False
    error: str = ""
    authoritative: bool = True


@dataclass
class Zone:
    """One etcd zone over an index: the context every lookup in it shares."""

    name: str  # lower-case FQDN, "." for the root
    prefix: str  # normalized etcd prefix, e.g. "/skydns"
    index: Index
    fallthrough: tuple[str, ...] | None = None
    upstream: Upstream | None = None
    deps: set[str] = field(default_factory=set)  # key prefixes read (cache invalidation)
    max_records: float = math.inf  # answer records the reply can carry at most (UDP: budget / MIN_RECORD)
    question: str = ""  # the name asked, as asked: kept-ready records are owned by it and no other name


def fqdn(name: str) -> str:
    return name if name.endswith(".") else name + "."


def is_subdomain(parent: str, child: str) -> bool:
    """child equals parent or is below it (case-insensitive, FQDNs)."""
    p, c = fqdn(parent).lower(), fqdn(child).lower()
    return p == "." or c == p or c.endswith("." + p)


def _path(name: str, prefix: str) -> tuple[str, bool, list[str]]:
    """CoreDNS PathWithWildcard: the key to read, whether a `*`/`any` label cut it, all path parts."""
    full = name_to_key(name, prefix)
    parts = full.split("/")
    base = len(prefix.strip("/").split("/")) + 1
    for i in range(base, len(parts)):
        if parts[i] in ("*", "any"):
            return "/".join(parts[:i]), True, parts
    return full, False, parts


def domain(key: str, prefix: str) -> str:
    """CoreDNS msg.Domain: the name a key spells, dropping exactly ONE prefix element (its known trap)."""
    first = "/" + prefix.strip("/").split("/")[0]
    name = key_to_name(key, first)
    return fqdn(name) if name else "."


def _target_strip(name: str, strip: int) -> str:
    if strip <= 0:
        return name
    labels = name.rstrip(".").split(".")
    if strip >= len(labels):
        return "."
    return ".".join(labels[strip:]) + "."


def records(z: Zone, name: str, qtype: int, exact: bool) -> list[Entry]:
    """CoreDNS Etcd.Records: subtree (or exact) read, wildcard filter, qtype filter, then group."""
    path, star, parts = _path(name, z.prefix)
    if exact:
        z.deps.add(path)
        found, e = z.index.exact(path)
        if not found:
            raise NameError_(name)
        entries = [e] if e is not None else []
    else:
        z.deps.add(path)  # covers both the subtree (path/...) and the exact key
        found, entries = z.index.subtree(path + "/")
        if not found:
            found, e = z.index.exact(path)
            if not found:
                raise NameError_(name)
            entries = [e] if e is not None else []
    if star:
        entries = [e for e in entries if _star_match(e.key.split("/"), parts)]
    txt = qtype == T_TXT
    entries = [e for e in entries if (txt and e.svc.text != "") or e.svc.host != ""]
    return group(entries)


def _walk(z: Zone, name: str, qtype: int) -> tuple[Iterator[Entry], Rollup | None]:
    """What `records` gives for a subtree read, but read lazily when the subtree is large.

    A name with ROLLUP_MIN or more records below it and no `group` among them (its rollup says so)
    is walked in key order as the answer is built, so an answer stops costing once the reply is
    full. Returns the rollup too when its totals stand for exactly these records (no wildcard
    filter cut them): the SRV weights. Anything else: the list `records` builds.
    """
    path, star, parts = _path(name, z.prefix)
    prefix = path + "/"
    if not z.index.has_below(prefix, ROLLUP_MIN):
        return iter(records(z, name, qtype, False)), None
    z.deps.add(path)
    roll = z.index.rollup(path)
    if roll.grouped:
        return iter(records(z, name, qtype, False)), None
    entries = z.index.iter_below(prefix)
    cut = star and len(parts) > len(path.split("/")) + 1  # a wildcard label with more labels before it
    if cut:
        entries = (e for e in entries if _star_match(e.key.split("/"), parts))
    txt = qtype == T_TXT
    return (e for e in entries if (txt and e.svc.text != "") or e.svc.host != ""), None if cut else roll


def _star_match(key_parts: list[str], name_parts: list[str]) -> bool:
    for i, n in enumerate(name_parts):
        if i >= len(key_parts):
            return False
        if n in ("*", "any"):
            continue
        if key_parts[i] != n:
            return False
    return True


def group(sx: list[Entry]) -> list[Entry]:
    """CoreDNS msg.Group, including its quirk that records after the early stop count as depth 0."""
    if not sx:
        return sx
    grp = sx[0].svc.group
    slashes = sx[0].depth
    length = [0] * len(sx)
    for i, s in enumerate(sx):
        x = s.depth
        length[i] = x
        if x < slashes:
            if s.svc.group == "":
                break
            grp = s.svc.group
            slashes = x
    if grp == "":
        return sx
    out: list[Entry] = []
    for i, s in enumerate(sx):
        if s.svc.group == "":
            out.append(s)
            continue
        if length[i] == slashes and s.svc.group != grp:
            return sx
        if s.svc.group == grp:
            out.append(s)
    return out


def _apex_records(z: Zone, name: str, qtype: int) -> Iterator[Entry]:
    """checkForApex: at the zone name, read apex.dns.<zone> first, else fall back to the whole zone."""
    if name.lower() != z.name:
        return _walk(z, name, qtype)[0]
    try:
        return _walk(z, _join("apex.dns", z.name), qtype)[0]
    except NameError_:
        return _walk(z, name, qtype)[0]


def _join(label: str, zone: str) -> str:
    return f"{label}." if zone == "." else f"{label}.{zone}"


def _rr(owner: str, rtype: int, ttl: int, rdata: object) -> RR:
    return RR(DNSLabel(owner), rtype, 1, ttl, rdata)


def _address(e: Entry, owner: str) -> RR:
    if e.kind == "A":
        return _rr(owner, T_A, e.ttl, A(e.ip))
    return _rr(owner, T_AAAA, e.ttl, AAAA(e.ip))


def _duplicate_cname(target: str, previous: list[Record]) -> bool:
    t = target.lower()
    return any(isinstance(r, RR) and r.rtype == T_CNAME and str(r.rdata.label).lower() == t for r in previous)


def _chase(
    z: Zone,
    qname: str,
    e: Entry,
    qtype: int,
    previous: list[Record],
    out: list[Record],
    state: dict[str, bool],
) -> None:
    """Follow one name-host record as a CNAME (A/AAAA/TXT): loop guard, chain limit, in/out of zone."""
    target = fqdn(e.svc.host)
    if is_subdomain(qname, target):
        return  # x CNAME x, and w.x -> x through the subtree read, are loops
    cname = _rr(qname, T_CNAME, e.ttl, CNAME(DNSLabel(target)))
    if len(previous) > MAX_CNAME_CHAIN or _duplicate_cname(target, previous):
        return
    if is_subdomain(z.name, target):
        try:
            nxt = (_txt if qtype == T_TXT else _addr)(z, target, qtype, [*previous, cname], state)
        except (NameError_, BackendError):
            return
        if nxt:
            out.append(cname)
            out.extend(nxt)
        return
    got = z.upstream(target, qtype) if z.upstream is not None else None
    if got is None:
        return
    answers, truncated = got
    state["tc"] = state.get("tc", False) or truncated
    out.append(cname)
    out.extend(answers)


def _ready_subtree(z: Zone, qname: str, qtype: int, state: dict[str, bool]) -> list[Record] | None:
    """The A, AAAA or TXT answer of a name with many records below it, from the index's rollup.

    CoreDNS answers a name (and `*.name`) from every record below it: at a domain's apex that is the
    whole domain. The rollup keeps those records deduplicated in key order as etcd changes; only the
    name hosts among them are chased here, each at its place. None: answer the ordinary way (few
    records below, records with a group, a wildcard deeper in the name).
    """
    if qname != z.question:  # glue, a CNAME target, a re-entry: the owner is not the question's name
        return None
    name = qname.lower()
    base = name
    first, _, rest = name.partition(".")
    if first in ("*", "any") and rest and is_subdomain(z.name, rest):
        base = rest
    if any(label in ("*", "any") for label in base.split(".")) or not is_subdomain(z.name, base):
        return None
    if base == name == z.name and qtype != T_TXT:
        apex = name_to_key(_join("apex.dns", z.name), z.prefix)  # the apex's own answer wins
        z.deps.add(apex)
        if z.index.subtree(apex + "/")[0] or z.index.exact(apex)[0]:
            return None
    path = name_to_key(base, z.prefix)
    if not z.index.has_below(path + "/", ROLLUP_MIN):
        return None
    z.deps.add(path)
    roll = z.index.rollup(path)
    if roll.grouped:
        return None
    out: list[Record] = []
    limit = z.max_records
    for e in roll.walk(qtype):
        if len(out) >= limit:
            state["tc"] = True  # more than the reply can carry: what is left would be cut anyway
            break
        if e.ready is not None and e.kind != "CNAME":
            out.append(e.ready)
        else:
            _chase(z, qname, e, qtype, [], out, state)
    return out


def _addr(z: Zone, qname: str, qtype: int, previous: list[Record], state: dict[str, bool]) -> list[Record]:
    if not previous:
        ready = _ready_subtree(z, qname, qtype, state)
        if ready is not None:
            return ready
    out: list[Record] = []
    seen: set[str] = set()
    for e in _apex_records(z, qname, qtype):
        if len(out) >= z.max_records:
            state["tc"] = True
            break
        if e.kind == "CNAME":
            _chase(z, qname, e, qtype, previous, out, state)
        elif ((e.kind == "A" and qtype == T_A) or (e.kind == "AAAA" and qtype == T_AAAA)) and (
            e.svc.host not in seen
        ):
            seen.add(e.svc.host)
            out.append(_address(e, qname))
    return out


def _txt(z: Zone, qname: str, qtype: int, previous: list[Record], state: dict[str, bool]) -> list[Record]:
    if not previous:
        ready = _ready_subtree(z, qname, T_TXT, state)
        if ready is not None:
            return ready
    out: list[Record] = []
    seen: set[str] = set()
    for e in _walk(z, qname, T_TXT)[0]:
        if len(out) >= z.max_records:
            state["tc"] = True
            break
        if e.kind == "CNAME":
            _chase(z, qname, e, T_TXT, previous, out, state)
        elif e.kind == "TXT" and e.svc.text not in seen:
            seen.add(e.svc.text)
            out.append(_rr(qname, T_TXT, e.ttl, TXT(text_strings(e.svc.text))))
    return out


def _glue(z: Zone, target: str, extra: list[RR], state: dict[str, bool]) -> None:
    """Additional records for an SRV/MX name target: in-zone A lookup only, out of zone A + AAAA upstream."""
    if not is_subdomain(z.name, target):
        if z.upstream is not None:
            got = z.upstream(target, T_A)
            if got is not None:
                extra.extend(got[0])
            got = z.upstream(target, T_AAAA)
            if got is not None:
                extra.extend(r for r in got[0] if r.rtype != T_CNAME)
        return
    with contextlib.suppress(NameError_, BackendError):
        extra.extend(_addr(z, target, T_A, [], state))


def _srv(z: Zone, qname: str, state: dict[str, bool]) -> tuple[list[RR], list[RR]]:
    services, roll = _walk(z, qname, T_SRV)
    out: list[RR] = []
    extra: list[RR] = []
    if roll is not None:
        weights = roll.weights  # kept as the records change: no pass over all of them first
    else:
        listed = list(services)
        services = iter(listed)
        weights = {}
        for e in listed:
            weights[e.priority] = weights.get(e.priority, 0) + (e.svc.weight or 100)
    dup: set[tuple[str, str, int]] = set()
    looked: set[str] = set()
    for e in services:
        if len(out) >= z.max_records:
            state["tc"] = True
            break
        if e.svc.port == -1:
            continue
        w1 = 100.0 / weights[e.priority] * (e.svc.weight or 100)
        weight = math.floor(w1) & 0xFFFF or 1
        if e.kind == "CNAME":
            target = _target_strip(fqdn(e.svc.host), e.svc.targetstrip)
            out.append(
                _rr(qname, T_SRV, e.ttl, SRV(e.priority & 0xFFFF, weight, e.svc.port & 0xFFFF, target))
            )
            if target in looked:
                continue
            looked.add(target)
            _glue(z, target, extra, state)
        elif e.kind in ("A", "AAAA"):
            target = _target_strip(domain(e.key, z.prefix), e.svc.targetstrip)
            port = e.svc.port & 0xFFFF
            if (target, "", port) not in dup:
                dup.add((target, "", port))
                out.append(_rr(qname, T_SRV, e.ttl, SRV(e.priority & 0xFFFF, weight, port, target)))
            if (target, e.svc.host, 0) not in dup:
                dup.add((target, e.svc.host, 0))
                extra.append(_address(e, target))
    return out, extra


def _mx(z: Zone, qname: str, state: dict[str, bool]) -> tuple[list[RR], list[RR]]:
    out: list[RR] = []
    extra: list[RR] = []
    dup: set[tuple[str, str, int]] = set()
    looked: set[str] = set()
    entries, roll = _walk(z, qname, T_MX)
    for e in entries if roll is None or roll.mail else ():  # no mail record below: nothing to walk
        if len(out) >= z.max_records:
            state["tc"] = True
            break
        if not e.svc.mail:
            continue
        pref = e.priority & 0xFFFF
        if e.kind == "CNAME":
            target = _target_strip(fqdn(e.svc.host), e.svc.targetstrip)
            out.append(_rr(qname, T_MX, e.ttl, MX(target, pref)))
            if target in looked:
                continue
            looked.add(target)
            _glue(z, target, extra, state)
        elif e.kind in ("A", "AAAA"):
            unstripped = domain(e.key, z.prefix)
            target = _target_strip(unstripped, e.svc.targetstrip)
            if (target, "", pref) not in dup:
                dup.add((target, "", pref))
                out.append(_rr(qname, T_MX, e.ttl, MX(target, pref)))
            if (unstripped, e.svc.host, 0) not in dup:
                dup.add((unstripped, e.svc.host, 0))
                extra.append(_address(e, unstripped))  # CoreDNS: glue owner is the unstripped name
    return out, extra


def _ns(z: Zone, qname: str) -> tuple[list[RR], list[RR]]:
    out: list[RR] = []
    extra: list[RR] = []
    seen: set[str] = set()
    for e in records(z, _join("ns.dns", z.name), T_NS, False):
        if e.kind == "CNAME":
            raise BackendError(f"NS record must be an IP address: {e.svc.host}")
        if e.kind not in ("A", "AAAA"):
            continue
        target = _target_strip(domain(e.key, z.prefix), e.svc.targetstrip)
        extra.append(_address(e, target))
        if target in seen:
            continue
        seen.add(target)
        out.append(_rr(qname, T_NS, e.ttl, NS(target)))
    return out, extra


def _cname(z: Zone, qname: str) -> list[RR]:
    services = records(z, qname, T_CNAME, True)
    if services and services[0].kind not in ("A", "AAAA"):
        e = services[0]
        return [_rr(qname, T_CNAME, e.ttl, CNAME(fqdn(e.svc.host)))]
    return []


def _ptr(z: Zone, qname: str) -> list[RR]:
    out: list[RR] = []
    seen: set[str] = set()
    for e in records(z, qname, T_PTR, True):
        if e.kind not in ("A", "AAAA") and e.svc.host not in seen:
            seen.add(e.svc.host)
            out.append(_rr(qname, T_PTR, e.ttl, PTR(fqdn(e.svc.host))))
    return out


def soa(zone: str, serial: int) -> RR:
    """The synthesized SOA: ns.dns.<zone> hostmaster.<zone> serial 7200 1800 86400 30, TTL 30."""
    mname = _join("ns.dns", zone)
    rname = "hostmaster." if zone == "." else f"hostmaster.{zone}"
    return _rr(zone, T_SOA, SOA_TTL, SOA(mname, rname, (serial & 0xFFFFFFFF, 7200, 1800, 86400, SOA_TTL)))


def refuse_any(qname: str) -> Result:
    """RFC 8482, as CoreDNS's `any` plugin: one small HINFO instead of every record of the name."""
    hinfo = TXT([b"ANY obsoleted", b"See RFC 8482"])  # HINFO's rdata is two strings, as TXT's
    return Result(NOERROR, answer=[_rr(qname, T_HINFO, RFC8482_TTL, hinfo)], authoritative=False)


def answer(z: Zone, qname: str, qtype: int, serial: int) -> Result:
    """The etcd plugin's handler for one question in zone z (qname keeps the query's case)."""
    name = qname.lower()
    state: dict[str, bool] = {}
    extra: list[RR] = []
    if qtype == T_ANY:
        return refuse_any(qname)
    try:
        if qtype in (T_A, T_AAAA):
            recs = _addr(z, qname, qtype, [], state)
        elif qtype == T_TXT:
            recs = _txt(z, qname, qtype, [], state)
        elif qtype == T_CNAME:
            recs = _cname(z, qname)
        elif qtype == T_PTR:
            recs = _ptr(z, qname)
        elif qtype == T_MX:
            recs, extra = _mx(z, qname, state)
        elif qtype == T_SRV:
            recs, extra = _srv(z, qname, state)
        elif qtype == T_SOA:
            recs = [soa(z.name, serial)]
        elif qtype == T_NS and name == z.name:
            recs, extra = _ns(z, qname)
        else:
            _addr(z, qname, T_A, [], {})  # only for its error: NXDOMAIN vs NODATA
            recs = []
    except NameError_:
        if z.fallthrough is not None and (
            not z.fallthrough or any(is_subdomain(f, name) for f in z.fallthrough)
        ):
            return Result(NOERROR, fallthrough=True)
        return Result(NXDOMAIN, authority=[soa(z.name, serial)])
    except BackendError as err:
        return Result(SERVFAIL, authority=[soa(z.name, serial)], error=str(err))
    if not recs:
        return Result(NOERROR, authority=[soa(z.name, serial)])
    return Result(NOERROR, answer=recs, additional=extra, truncated=state.get("tc", False))
