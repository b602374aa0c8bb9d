"""DNS wire format with dnslib: query validation, replies with EDNS0 and miekg-style truncation."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from dnslib import CLASS, QTYPE, RR, DNSBuffer, DNSError, DNSLabel, DNSRecord
from dnslib.label import LDH, DNSLabelError

NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
BADVERS = 16
MIN_UDP = 512
MAX_TCP = 65535
# The server's own EDNS UDP limit (CoreDNS `bufsize`): DNS Flag Day 2020's size, which fits every
# common path MTU without IP fragmentation.
DEFAULT_BUFSIZE = 1232
# No UDP reply is larger than this many times its query (whatever the sizes above allow): the only
# queries it cuts are the very shortest (the root name with EDNS), which retry over TCP.
MAX_AMPLIFICATION = 40
T_OPT = 41
MAX_POINTER = 0x3FFF  # a compression pointer has 14 bits: names further on cannot be pointed at
_PLAIN = frozenset(LDH)  # label bytes dnslib prints as they are


@dataclass(frozen=True)
class Edns:
    """The EDNS0 OPT of a query."""

    udp_size: int
    do: bool
    version: int


@dataclass(frozen=True)
class Query:
    """A validated single-question query."""

    id: int
    rd: bool
    cd: bool
    qname: str  # as received (case kept), with the trailing dot
    qtype: int
    qclass: int
    edns: Edns | None
    labels: tuple[bytes, ...]  # of qname, as received
    question: bytes  # the question section as it goes into the reply (name uncompressed, type, class)
    size: int  # bytes on the wire


def _header_reply(data: bytes, rcode: int) -> bytes:
    """A bare header reply (no question) for queries we could not parse, as miekg does."""
    qid, flags = struct.unpack("!HH", data[:4])
    opcode = flags & 0x7800
    rd_cd = flags & 0x0110
    return struct.pack("!HHHHHH", qid, 0x8000 | opcode | rd_cd | rcode, 0, 0, 0, 0)


class _Buffer(DNSBuffer):  # type: ignore[misc]
    """dnslib's buffer, except that a name past offset 0x3FFF is never offered as a compression target.

    dnslib remembers every name's offset and would write a pointer to one beyond 14 bits, cut short:
    a corrupt reply, which a TCP answer of more than 16 KiB with a repeated name produced.
    """

    def encode_name(self, name: object) -> None:
        label = name if isinstance(name, DNSLabel) else DNSLabel(name)
        if len(label) > 253:
            raise DNSLabelError(f"name too long: {label!r}")
        parts = list(label.label)
        while parts:
            at = self.names.get(tuple(parts))
            if at is not None:
                self.pack("!H", 0xC000 | at)
                return
            if self.offset <= MAX_POINTER:
                self.names[tuple(parts)] = self.offset
            first = parts.pop(0)
            if len(first) > 63:
                raise DNSLabelError(f"label too long: {first!r}")
            self.pack("!B", len(first))
            self.append(first)
        self.append(b"\x00")


def decode(data: bytes) -> Query | bytes | None:
    """A Query, an immediate error reply (FORMERR, NOTIMP, BADVERS) or None to drop the packet."""
    if len(data) < 12:
        return None
    data = bytes(data)
    qid, flags, qd, an, ns, ar = struct.unpack_from("!HHHHHH", data)
    if flags & 0x8000:
        return None  # a response: never answer it
    if (flags >> 11) & 0xF != 0:
        return _header_reply(data, NOTIMP)
    if qd != 1 or an > 1 or ns > 1 or ar > 2:
        return _header_reply(data, FORMERR)
    query = _plain(data, qid, flags, an + ns, ar) or _parsed(data, qid, flags)
    if isinstance(query, Query) and query.edns is not None and query.edns.version != 0:
        return encode(query, BADVERS, [], [], [], "udp", aa=False)
    return query


def _plain(data: bytes, qid: int, flags: int, an_ns: int, ar: int) -> Query | None:
    """The common query, parsed without dnslib: printable labels, no records but an optional OPT."""
    if an_ns:
        return None
    n = len(data)
    pos = 12
    labels: list[bytes] = []
    while pos < n and 0 < data[pos] < 64:
        label = data[pos + 1 : pos + 1 + data[pos]]
        if len(label) != data[pos] or not _PLAIN.issuperset(label):
            return None
        labels.append(label)
        pos += 1 + len(label)
    end = pos + 5
    if pos >= n or data[pos] != 0 or end > n or pos - 12 > 254:
        return None
    qtype, qclass = struct.unpack_from("!HH", data, pos + 1)
    edns = None
    if ar == 1:
        if n < end + 11 or data[end] != 0:
            return None
        rtype, udp, ttl, rdlen = struct.unpack_from("!HHIH", data, end + 1)
        if rtype != T_OPT or end + 11 + rdlen != n or not _options_ok(data[end + 11 :]):
            return None
        edns = Edns(udp_size=udp, do=bool(ttl & 0x8000), version=(ttl >> 16) & 0xFF)
    elif ar or end != n:
        return None
    qname = ".".join(lab.decode() for lab in labels) + "."
    return Query(
        qid,
        bool(flags & 0x0100),
        bool(flags & 0x0010),
        qname,
        qtype,
        qclass,
        edns,
        tuple(labels),
        data[12:end],
        n,
    )


def _options_ok(rdata: bytes) -> bool:
    """EDNS options are (code, length, value) triples that fill the rdata exactly."""
    at = 0
    while at + 4 <= len(rdata):
        at += 4 + int.from_bytes(rdata[at + 2 : at + 4], "big")
    return at == len(rdata)


def _parsed(data: bytes, qid: int, flags: int) -> Query | bytes:
    """Any other query, through dnslib's parser."""
    try:
        rec = DNSRecord.parse(data)
    except (DNSError, ValueError, IndexError, struct.error, UnicodeError, TypeError, KeyError):
        return _header_reply(data, FORMERR)
    opts = [r for r in rec.ar if r.rtype == QTYPE.OPT]
    if len(opts) > 1 or any(r.rtype == QTYPE.OPT for r in rec.rr + rec.auth):
        return _header_reply(data, FORMERR)
    edns = None
    if opts:
        o = opts[0]
        if str(o.rname) not in (".", ""):
            return _header_reply(data, FORMERR)
        edns = Edns(udp_size=o.rclass, do=bool(o.ttl & 0x8000), version=(o.ttl >> 16) & 0xFF)
    q = rec.questions[0]
    buf = DNSBuffer()
    try:
        q.pack(buf)
    except (DNSError, DNSLabelError):  # e.g. a name longer than 253 bytes
        return _header_reply(data, FORMERR)
    return Query(
        id=qid,
        rd=bool(flags & 0x0100),
        cd=bool(flags & 0x0010),
        qname=_name(q.qname),
        qtype=q.qtype,
        qclass=q.qclass,
        edns=edns,
        labels=tuple(bytes(lab) for lab in q.qname.label),
        question=bytes(buf.data),
        size=len(data),
    )


def _name(label: object) -> str:
    s = str(label)
    return s if s.endswith(".") else s + "."


def _udp_size(query: Query, bufsize: int) -> int:
    """The UDP size both sides accept: the query's EDNS size (at least 512) capped by our bufsize."""
    assert query.edns is not None
    return min(bufsize, max(MIN_UDP, query.edns.udp_size))


def _opt(query: Query, rcode: int, bufsize: int) -> bytes:
    """Our OPT RR (no options): the agreed UDP size, the DO bit echoed, version 0."""
    if query.edns is None:
        return b""
    ttl = (rcode >> 4) << 24 | (0x8000 if query.edns.do else 0)
    return b"\x00" + struct.pack("!HHIH", T_OPT, _udp_size(query, bufsize), ttl, 0)


def budget(query: Query, proto: str, bufsize: int = DEFAULT_BUFSIZE) -> int:
    """Largest reply size: 65535 over TCP, else the UDP size, capped by the amplification limit.

    Over UDP: 512 without EDNS, else the agreed size, and never more than MAX_AMPLIFICATION times
    the query (but at least 512).
    """
    if proto == "tcp":
        return MAX_TCP
    if query.edns is None:
        return MIN_UDP
    return min(_udp_size(query, bufsize), max(MIN_UDP, MAX_AMPLIFICATION * query.size))


def encode(
    query: Query,
    rcode: int,
    answer: list[RR],
    authority: list[RR],
    additional: list[RR],
    proto: str,
    aa: bool = True,
    tc: bool = False,
    bufsize: int = DEFAULT_BUFSIZE,
) -> bytes:
    """Pack a reply; over budget keep RRs in section order while they fit (miekg Truncate), TC if dropped.

    Packing stops at the first record that does not fit, so a truncated reply costs what it carries,
    not what the whole answer would have.
    """
    buf = _Buffer(bytes(12) + query.question)
    at = 12
    for i, label in enumerate(query.labels):  # names in the records compress against the question
        buf.names[query.labels[i:]] = at
        at += 1 + len(label)
    buf.offset = len(buf.data)
    opt = _opt(query, rcode, bufsize)
    limit = budget(query, proto, bufsize) - len(opt)
    kept = 0
    end = buf.offset
    for rr in (*answer, *authority, *additional):
        rr.pack(buf)
        if buf.offset > limit:
            tc = True
            break
        kept += 1
        end = buf.offset
    body = buf.data[12:end]
    n_an = min(kept, len(answer))
    n_ns = min(kept - n_an, len(authority))
    n_ar = kept - n_an - n_ns + (1 if opt else 0)
    flags = 0x8000 | aa << 10 | tc << 9 | query.rd << 8 | query.cd << 4 | rcode & 0xF
    return struct.pack("!HHHHHH", query.id, flags, 1, n_an, n_ns, n_ar) + bytes(body) + opt


def slipped(data: bytes) -> bytes | None:
    """The smallest reply a rate-limited client gets now and then: its question, TC set, no records."""
    q = decode(data)
    if not isinstance(q, Query):
        return None
    return encode(q, NOERROR, [], [], [], "udp", aa=False, tc=True)


def qtype_name(qtype: int) -> str:
    """Mnemonic of a type (TYPE123 when unknown)."""
    try:
        return str(QTYPE[qtype])
    except Exception:
        return f"TYPE{qtype}"


def qclass_name(qclass: int) -> str:
    """Mnemonic of a class (CLASS123 when unknown)."""
    try:
        return str(CLASS[qclass])
    except Exception:
        return f"CLASS{qclass}"
