"""DNS wire format with dnslib: query validation, replies with EDNS0 and miekg-style truncation."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from dnslib import CLASS, EDNS0, QTYPE, RR, DNSBuffer, DNSError, DNSHeader, DNSQuestion, DNSRecord

NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
BADVERS = 16
MIN_UDP = 512
MAX_TCP = 65535
OPT_LEN = 11  # an OPT RR without options


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
    question: DNSQuestion
    size: int  # bytes on the wire


def _header_reply(data: bytes, rcode: int) -> bytes:
    """A bare header reply (no question) for queries we could not parse, as miekg does."""
    qid, flags = struct.unpack("!HH", data[:4])
    opcode = flags & 0x7800
    rd_cd = flags & 0x0110
    return struct.pack("!HHHHHH", qid, 0x8000 | opcode | rd_cd | rcode, 0, 0, 0, 0)


def decode(data: bytes) -> Query | bytes | None:
    """A Query, an immediate error reply (FORMERR, NOTIMP, BADVERS) or None to drop the packet."""
    if len(data) < 12:
        return None
    qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", data[:12])
    if flags & 0x8000:
        return None  # a response: never answer it
    if (flags >> 11) & 0xF != 0:
        return _header_reply(data, NOTIMP)
    if qd != 1 or an > 1 or ns > 1 or ar > 2:
        return _header_reply(data, FORMERR)
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
    query = Query(
        id=qid,
        rd=bool(flags & 0x0100),
        cd=bool(flags & 0x0010),
        qname=_name(q.qname),
        qtype=q.qtype,
        qclass=q.qclass,
        edns=edns,
        question=q,
        size=len(data),
    )
    if edns is not None and edns.version != 0:
        return encode(query, BADVERS, [], [], [], "udp", aa=False)
    return query


def _name(label: object) -> str:
    s = str(label)
    return s if s.endswith(".") else s + "."


def _opt(query: Query, rcode: int) -> RR | None:
    if query.edns is None:
        return None
    size = max(MIN_UDP, query.edns.udp_size)
    return EDNS0(udp_len=size, flags="do" if query.edns.do else "", version=0, ext_rcode=rcode >> 4)


def budget(query: Query, proto: str) -> int:
    """Largest reply size: 65535 over TCP, max(512, EDNS size) over UDP."""
    if proto == "tcp":
        return MAX_TCP
    if query.edns is None:
        return MIN_UDP
    return min(MAX_TCP, max(MIN_UDP, query.edns.udp_size))


def encode(
    query: Query,
    rcode: int,
    answer: list[RR],
    authority: list[RR],
    additional: list[RR],
    proto: str,
    aa: bool = True,
    tc: bool = False,
) -> bytes:
    """Pack a reply; over budget keep RRs in section order while they fit, TC if any was dropped."""
    header = DNSHeader(
        id=query.id, qr=1, opcode=0, aa=int(aa), tc=int(tc), rd=int(query.rd), ra=0, rcode=rcode & 0xF
    )
    header.cd = int(query.cd)
    opt = _opt(query, rcode)
    extra = [*additional, opt] if opt is not None else list(additional)
    msg = DNSRecord(header, questions=[query.question], rr=list(answer), auth=list(authority), ar=extra)
    packed = bytes(msg.pack())
    size = budget(query, proto)
    if len(packed) <= size:
        return packed
    # miekg Truncate: the OPT is always kept, then RRs in section order while they fit.
    limit = size - (OPT_LEN if opt is not None else 0)
    buf = DNSBuffer()
    header.pack(buf)
    query.question.pack(buf)
    kept = 0
    rrs = [*answer, *authority, *additional]
    for rr in rrs:
        rr.pack(buf)
        if buf.offset > limit:
            break
        kept += 1
    n_an = min(kept, len(answer))
    n_ns = min(kept - n_an, len(authority))
    n_ar = kept - n_an - n_ns
    header.tc = 1
    msg = DNSRecord(
        header,
        questions=[query.question],
        rr=list(answer[:n_an]),
        auth=list(authority[:n_ns]),
        ar=[*additional[:n_ar], *([opt] if opt is not None else [])],
    )
    out = bytes(msg.pack())
    return out


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
