"""etcd adapter: read the SkyDNS prefix or single names; apply per-name ops in conditional, chunked txns."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pyetcd
from pyetcd import etcdrpc

from extdns.current import KeyValue
from extdns.ops import NameOps
from extdns.skydns import name_to_key, normalize_prefix

# etcd's defaults: --max-txn-ops 128, --max-request-bytes 1.5 MiB. Stay under both.
MAX_TXN_OPS = 128
MAX_TXN_BYTES = 1 << 20
PAGE = 5000


def range_end(prefix: bytes) -> bytes:
    """The end of the range holding exactly the keys that start with `prefix`."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return b"\0"
    return stripped[:-1] + bytes([stripped[-1] + 1])


@dataclass
class ApplyReport:
    """What one apply did: names written, names whose transaction lost a race, and the counts."""

    applied: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    puts: int = 0
    deletes: int = 0
    txns: int = 0

    @property
    def writes(self) -> int:
        return self.puts + self.deletes

    def add(self, other: ApplyReport) -> None:
        self.applied += other.applied
        self.conflicts += other.conflicts
        self.puts += other.puts
        self.deletes += other.deletes
        self.txns += other.txns


@dataclass(frozen=True)
class _Txn:
    """One name's transaction parts as etcd messages."""

    name: str
    compares: list[etcdrpc.Compare]
    requests: list[etcdrpc.RequestOp]
    size: int
    puts: int
    deletes: int


class EtcdStore:
    """Reads and conditional writes over one SkyDNS prefix."""

    def __init__(self, client: pyetcd.Etcd3Client, prefix: str, *, max_txn_ops: int = MAX_TXN_OPS,
                 max_txn_bytes: int = MAX_TXN_BYTES) -> None:  # fmt: skip
        self.client = client
        self.prefix = normalize_prefix(prefix)
        self.max_ops = max_txn_ops
        self.max_bytes = max_txn_bytes

    # ------------------------------------------------------------ reads

    def _range(self, request: etcdrpc.RangeRequest) -> etcdrpc.RangeResponse:
        c = self.client
        return c.kvstub.Range(request, c.timeout, credentials=c.call_credentials, metadata=c.metadata)

    def _txn(self, request: etcdrpc.TxnRequest) -> etcdrpc.TxnResponse:
        c = self.client
        return c.kvstub.Txn(request, c.timeout, credentials=c.call_credentials, metadata=c.metadata)

    def read_prefix(self) -> tuple[list[KeyValue], int]:
        """Every key under the prefix, paginated, all pages from one revision; and that revision."""
        start = (self.prefix + "/").encode()
        end = range_end(start)
        out: list[KeyValue] = []
        revision = 0
        while True:
            resp = self._range(etcdrpc.RangeRequest(key=start, range_end=end, limit=PAGE, revision=revision))
            revision = revision or resp.header.revision
            out += [KeyValue(kv.key.decode(errors="replace"), kv.value, kv.mod_revision) for kv in resp.kvs]
            if not resp.more or not resp.kvs:
                return out, revision
            start = resp.kvs[-1].key + b"\0"

    def read_keys(self, keys: Iterable[str]) -> tuple[list[KeyValue], int]:
        """Each key itself and everything under `key/`, in read-only transactions of one revision each."""
        ranges: list[tuple[bytes, bytes]] = []
        for key in keys:
            k = key.encode()
            ranges += [(k, b""), (k + b"/", range_end(k + b"/"))]
        out: dict[bytes, KeyValue] = {}
        revision = 0
        for i in range(0, len(ranges), self.max_ops):
            ops = [
                etcdrpc.RequestOp(request_range=etcdrpc.RangeRequest(key=k, range_end=e, revision=revision))
                for k, e in ranges[i : i + self.max_ops]
            ]
            resp = self._txn(etcdrpc.TxnRequest(success=ops))
            revision = revision or resp.header.revision
            for r in resp.responses:
                for kv in r.response_range.kvs:
                    out[kv.key] = KeyValue(kv.key.decode(errors="replace"), kv.value, kv.mod_revision)
        return sorted(out.values(), key=lambda kv: kv.key), revision

    # ------------------------------------------------------------ writes

    def _name_txn(self, op: NameOps, revision: int) -> _Txn:
        compares = [
            etcdrpc.Compare(
                key=key.encode(), target=etcdrpc.Compare.MOD, result=etcdrpc.Compare.EQUAL, mod_revision=rev
            )
            for key, rev in sorted(op.expected.items())
        ]
        if revision:
            # Nothing else appeared in or under the name's record key since we read it.
            own = name_to_key(op.name, self.prefix).encode()
            for key, end in ((own, b""), (own + b"/", range_end(own + b"/"))):
                compares.append(
                    etcdrpc.Compare(
                        key=key,
                        range_end=end,
                        target=etcdrpc.Compare.MOD,
                        result=etcdrpc.Compare.LESS,
                        mod_revision=revision + 1,
                    )
                )
        requests = [
            etcdrpc.RequestOp(request_put=etcdrpc.PutRequest(key=k.encode(), value=v))
            for k, v in sorted(op.puts.items())
        ]
        requests += [
            etcdrpc.RequestOp(request_delete_range=etcdrpc.DeleteRangeRequest(key=k.encode()))
            for k in op.deletes
        ]
        size = sum(c.ByteSize() for c in compares) + sum(r.ByteSize() for r in requests)
        return _Txn(op.name, compares, requests, size, len(op.puts), len(op.deletes))

    def _fits(self, batch: list[_Txn], t: _Txn) -> bool:
        return (
            sum(len(b.compares) for b in batch) + len(t.compares) <= self.max_ops
            and sum(len(b.requests) for b in batch) + len(t.requests) <= self.max_ops
            and sum(b.size for b in batch) + t.size <= self.max_bytes
        )

    def _commit(self, batch: list[_Txn]) -> bool:
        compares = [c for t in batch for c in t.compares]
        requests = [r for t in batch for r in t.requests]
        return bool(self._txn(etcdrpc.TxnRequest(compare=compares, success=requests)).succeeded)

    def apply(self, ops: Sequence[NameOps], revision: int = 0) -> ApplyReport:
        """Write each name's ops atomically and only if what was read still holds.

        Names are packed into shared transactions up to etcd's op and size limits; when a shared
        transaction fails its conditions, each of its names is tried alone so one lost race costs
        only that name (reported in `conflicts`, to be re-read and re-planned). `revision` is the
        revision the ops were planned from; with it, a key that appeared under a name since then
        also fails that name's condition.
        """
        report = ApplyReport()
        batch: list[_Txn] = []
        for op in ops:
            if not op.puts and not op.deletes:
                continue
            t = self._name_txn(op, revision)
            if batch and not self._fits(batch, t):
                report.add(self._flush(batch))
                batch = []
            if not batch and not self._fits([], t):
                report.add(self._oversized(t))
                continue
            batch.append(t)
        if batch:
            report.add(self._flush(batch))
        return report

    def _flush(self, batch: list[_Txn]) -> ApplyReport:
        report = ApplyReport(txns=1)
        if self._commit(batch):
            for t in batch:
                report.applied.append(t.name)
                report.puts += t.puts
                report.deletes += t.deletes
            return report
        if len(batch) == 1:
            report.conflicts.append(batch[0].name)
            return report
        for t in batch:
            report.add(self._flush([t]))
        return report

    def _oversized(self, t: _Txn) -> ApplyReport:
        """A name with more writes than one transaction may hold: guarded first chunk, then the rest."""
        report = ApplyReport()
        chunks = [t.requests[i : i + self.max_ops] for i in range(0, len(t.requests), self.max_ops)]
        first = _Txn(t.name, t.compares[: self.max_ops], chunks[0], 0, 0, 0)
        report.txns += 1
        if not self._commit([first]):
            report.conflicts.append(t.name)
            return report
        for chunk in chunks[1:]:
            report.txns += 1
            self._commit([_Txn(t.name, [], chunk, 0, 0, 0)])
        report.applied.append(t.name)
        report.puts += t.puts
        report.deletes += t.deletes
        return report
