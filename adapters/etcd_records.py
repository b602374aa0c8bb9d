"""etcd adapter: a view's revision, reads at that revision, and fenced per-name transactions in chunks."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

import grpc
import pyetcd
from pyetcd import etcdrpc

from controller.ports import ApplyReport, RecordsState, Snapshot, View, ViewExpired
from extdns.fencing import (
    FENCE_ROOT,
    GUARD_ROOT,
    TOMBSTONE_TTL,
    NameTxn,
    fence_range,
    keys_written,
    marker_range,
    rebase,
)
from extdns.skydns import normalize_prefix
from extdns.stored import KeyValue

# etcd's defaults: --max-txn-ops 128, --max-request-bytes 1.5 MiB. Stay under both.
MAX_TXN_OPS = 128
MAX_TXN_BYTES = 1 << 20
PAGE = 5000
LEAF_PAGE = 64  # leaves read per name in the first, batched read; a name with more is paged on its own
LEASE_REUSE = 60.0  # seconds one fence lease is shared by later commits


def range_end(prefix: bytes) -> bytes:
    """The end of the range holding exactly the keys that start with `prefix`."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return b"\0"
    return stripped[:-1] + bytes([stripped[-1] + 1])


def _moved(moved: dict[str, int], t: NameTxn, revision: int) -> None:
    for k, _ in t.puts:
        moved[k] = revision
    for k in t.deletes:
        moved[k] = 0


def _compare(key: str, revision: int) -> etcdrpc.Compare:
    return etcdrpc.Compare(
        key=key.encode(), target=etcdrpc.Compare.MOD, result=etcdrpc.Compare.EQUAL, mod_revision=revision
    )


class EtcdStore:
    """Reads at one revision and fenced writes over one SkyDNS prefix."""

    def __init__(self, client: pyetcd.Etcd3Client, prefix: str, *, max_txn_ops: int = MAX_TXN_OPS,
                 max_txn_bytes: int = MAX_TXN_BYTES) -> None:  # fmt: skip
        self.client = client
        self.prefix = normalize_prefix(prefix)
        self.max_ops = max_txn_ops
        self.max_bytes = max_txn_bytes
        self._lease: tuple[int, float] | None = None

    # ------------------------------------------------------------ rpc

    def _rpc(self, stub: str, method: str, request: object) -> object:
        c = self.client
        call = getattr(getattr(c, stub), method)
        try:
            return call(request, c.timeout, credentials=c.call_credentials, metadata=c.metadata)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.OUT_OF_RANGE:  # "required revision has been compacted"
                raise ViewExpired(str(exc.details())) from exc
            raise

    def _range(self, request: etcdrpc.RangeRequest) -> etcdrpc.RangeResponse:
        resp: etcdrpc.RangeResponse = self._rpc("kvstub", "Range", request)
        return resp

    def _txn(self, request: etcdrpc.TxnRequest) -> etcdrpc.TxnResponse:
        resp: etcdrpc.TxnResponse = self._rpc("kvstub", "Txn", request)
        return resp

    # ------------------------------------------------------------ reads

    def begin(self) -> View:
        """The current revision: taken *before* the cluster and the claims are read."""
        resp = self._range(etcdrpc.RangeRequest(key=FENCE_ROOT.encode(), count_only=True))
        return View(int(resp.header.revision), time.monotonic())

    def state(self) -> RecordsState:
        """One keys-only Range, newest mod revision first, limit 1: the count comes along."""
        start = (self.prefix + "/").encode()
        resp = self._range(
            etcdrpc.RangeRequest(
                key=start, range_end=range_end(start), keys_only=True, limit=1,
                sort_order=etcdrpc.RangeRequest.DESCEND, sort_target=etcdrpc.RangeRequest.MOD,
            )
        )  # fmt: skip
        return RecordsState(int(resp.count), int(resp.kvs[0].mod_revision) if resp.kvs else 0)

    def _paged(self, start: bytes, end: bytes, revision: int) -> list[etcdrpc.KeyValue]:
        out: list[etcdrpc.KeyValue] = []
        while True:
            resp = self._range(etcdrpc.RangeRequest(key=start, range_end=end, limit=PAGE, revision=revision))
            out += resp.kvs
            if not resp.more or not resp.kvs:
                return out
            start = resp.kvs[-1].key + b"\0"

    def read(self, view: View, keys: Sequence[str] | None = None, fences: Sequence[str] = ()) -> Snapshot:
        """Records and guards at the view's revision: everything (keys None), or the given keys and guards."""
        if keys is None:
            start = (self.prefix + "/").encode()
            kvs = self._paged(start, range_end(start), view.revision)
            fence_kvs = []
            for root in (fence_range(self.prefix), marker_range(self.prefix)):
                fence_kvs += self._paged(root.encode(), range_end(root.encode()), view.revision)
            return Snapshot(
                [KeyValue(kv.key.decode(errors="replace"), kv.value, kv.mod_revision) for kv in kvs],
                {kv.key.decode(errors="replace"): kv.mod_revision for kv in fence_kvs},
            )
        return self._read_names(view.revision, keys, fences)

    def _read_names(self, revision: int, keys: Sequence[str], fences: Sequence[str]) -> Snapshot:
        """Each key itself and its leaves (`key/<suffix>`, not the names below it), and each fence.

        One batched, read-only transaction per etcd op limit reads every key exactly and the first
        LEAF_PAGE keys under it; a key with more below it (an apex with names under it) is paged on
        its own, jumping over each child name's subtree instead of reading it.
        """
        ranges: list[tuple[bytes, bytes, int]] = []
        for key in keys:
            k = key.encode()
            ranges += [(k, b"", 0), (k + b"/", range_end(k + b"/"), LEAF_PAGE)]
        ranges += [(f.encode(), b"", 0) for f in fences]
        fence_set = {f.encode() for f in fences}
        found: dict[bytes, etcdrpc.KeyValue] = {}
        fence_revs: dict[str, int] = {}
        deep: list[bytes] = []
        for i in range(0, len(ranges), self.max_ops):
            chunk = ranges[i : i + self.max_ops]
            ops = [
                etcdrpc.RequestOp(
                    request_range=etcdrpc.RangeRequest(key=k, range_end=e, limit=limit, revision=revision)
                )
                for k, e, limit in chunk
            ]
            resp = self._txn(etcdrpc.TxnRequest(success=ops))
            for (start, _, _), r in zip(chunk, resp.responses, strict=True):
                rr = r.response_range
                for kv in rr.kvs:
                    if kv.key in fence_set:
                        fence_revs[kv.key.decode()] = kv.mod_revision
                    elif b"/" not in kv.key[len(start) :]:
                        found[kv.key] = kv
                if rr.more or any(b"/" in kv.key[len(start) :] for kv in rr.kvs):
                    deep.append(start)
        for start in deep:
            for kv in self._leaves(start, revision):
                found[kv.key] = kv
        kvs = [
            KeyValue(k.decode(errors="replace"), kv.value, kv.mod_revision) for k, kv in sorted(found.items())
        ]
        return Snapshot(kvs, fence_revs)

    def _leaves(self, start: bytes, revision: int) -> Iterable[etcdrpc.KeyValue]:
        """Keys directly under `start` (which ends in '/'), skipping every deeper subtree."""
        end = range_end(start)
        cursor = start
        while cursor < end:
            resp = self._range(
                etcdrpc.RangeRequest(key=cursor, range_end=end, limit=LEAF_PAGE, revision=revision)
            )
            if not resp.kvs:
                return
            cursor = b""
            for kv in resp.kvs:
                rest = kv.key[len(start) :]
                if b"/" in rest:  # a name below this one: jump over its whole subtree
                    cursor = range_end(start + rest.split(b"/", 1)[0] + b"/")
                    break
                yield kv
            if not cursor:
                if not resp.more:
                    return
                cursor = resp.kvs[-1].key + b"\0"

    # ------------------------------------------------------------ writes

    def _fence_lease(self) -> int:
        now = time.monotonic()
        if self._lease is None or now - self._lease[1] > LEASE_REUSE:
            grant = self._rpc("leasestub", "LeaseGrant", etcdrpc.LeaseGrantRequest(TTL=TOMBSTONE_TTL, ID=0))
            self._lease = (int(grant.ID), now)  # type: ignore[attr-defined]
        return self._lease[0]

    def _requests(self, t: NameTxn) -> list[etcdrpc.RequestOp]:
        lease = self._fence_lease()
        out = [
            etcdrpc.RequestOp(
                request_put=etcdrpc.PutRequest(
                    key=k.encode(), value=v, lease=lease if k.startswith(GUARD_ROOT) else 0
                )
            )
            for k, v in t.puts
        ]
        out += [
            etcdrpc.RequestOp(request_delete_range=etcdrpc.DeleteRangeRequest(key=k.encode()))
            for k in t.deletes
        ]
        return out

    def apply(self, txns: Sequence[NameTxn]) -> ApplyReport:
        """Commit each name's guarded transaction; names share an etcd transaction up to its limits.

        When a shared transaction fails its guards, each of its names is tried alone, so one lost
        race costs only that name (reported in `conflicts`: re-read everything and re-plan it).
        """
        report = ApplyReport()
        moved: dict[str, int] = {}  # keys this apply committed, at the revision it left them
        batch: list[NameTxn] = []
        batch_keys: set[str] = set()
        used = [0, 0, 0]  # compares, requests, bytes
        for t in txns:
            if not t.puts and not t.deletes:
                continue
            keys = keys_written(t)
            if batch and keys & batch_keys:  # one key twice in a txn is refused: commit what we have first
                report.add(self._flush(batch, moved))
                batch, batch_keys, used = [], set(), [0, 0, 0]
            t = rebase(t, moved)
            n_compares, n_requests = len(t.compares), len(t.puts) + len(t.deletes)
            size = sum(len(k) + 16 for k, _ in t.compares) + sum(len(k) + len(v) + 16 for k, v in t.puts)
            size += sum(len(k) + 16 for k in t.deletes)
            if n_compares > self.max_ops or n_requests > self.max_ops or size > self.max_bytes:
                if batch:
                    report.add(self._flush(batch, moved))
                    batch, batch_keys, used = [], set(), [0, 0, 0]
                report.add(self._oversized(rebase(t, moved), moved))
                continue
            if batch and (used[0] + n_compares > self.max_ops or used[1] + n_requests > self.max_ops
                          or used[2] + size > self.max_bytes):  # fmt: skip
                report.add(self._flush(batch, moved))
                batch, batch_keys, used = [], set(), [0, 0, 0]
                t = rebase(t, moved)
            batch.append(t)
            batch_keys |= keys
            used = [used[0] + n_compares, used[1] + n_requests, used[2] + size]
        if batch:
            report.add(self._flush(batch, moved))
        return report

    def _commit(
        self, compares: list[etcdrpc.Compare], requests: list[etcdrpc.RequestOp]
    ) -> etcdrpc.TxnResponse:
        return self._txn(etcdrpc.TxnRequest(compare=compares, success=requests))

    def _flush(self, batch: list[NameTxn], moved: dict[str, int]) -> ApplyReport:
        """Commit the batch in one transaction; if its guards fail, each name alone."""
        report = ApplyReport(txns=1)
        compares = [_compare(k, rev) for t in batch for k, rev in t.compares]
        resp = self._commit(compares, [r for t in batch for r in self._requests(t)])
        if resp.succeeded:
            for t in batch:
                _moved(moved, t, int(resp.header.revision))
                if t.writes:  # a touch (guards only) is not a record write
                    report.applied.append(t.name)
                report.puts += t.writes - len(t.deletes)  # guards are bookkeeping, not record writes
                report.deletes += len(t.deletes)
            return report
        if len(batch) == 1:
            report.conflicts.append(batch[0].name)
            return report
        for one in batch:  # no two of them write one key: they are independent
            report.add(self._flush([one], moved))
        return report

    def _oversized(self, t: NameTxn, moved: dict[str, int]) -> ApplyReport:
        """A name with more keys than one transaction may hold: chunks, each guarded by the fence.

        Every chunk rewrites the fence and requires it as the previous chunk left it, so a writer
        that lands between two chunks makes the rest fail (reported as a conflict, then re-planned
        from what is there). The per-key guards go first, in chunks that write only the fence.
        """
        report = ApplyReport()
        compares = [_compare(k, rev) for k, rev in t.compares]
        requests = self._requests(t)
        fence = t.fence.encode()
        others = [c for c in compares if c.key != fence]
        fence_put = next(r for r in requests if r.request_put.key == fence)
        writes = [r for r in requests if r is not fence_put]
        room = self.max_ops - 1
        # Guards first (they hold keys that later chunks write), then the writes under the fence alone.
        chunks: list[tuple[list[etcdrpc.Compare], list[etcdrpc.RequestOp]]] = [
            (others[i : i + room], []) for i in range(0, len(others), room)
        ]
        chunks += [([], writes[i : i + room]) for i in range(0, len(writes), room)]
        fence_rev = next(c.mod_revision for c in compares if c.key == fence)
        for guard, chunk in chunks:
            resp = self._commit([_compare(t.fence, fence_rev), *guard], [*chunk, fence_put])
            report.txns += 1
            if not resp.succeeded:
                report.conflicts.append(t.name)
                return report
            fence_rev = int(resp.header.revision)
        _moved(moved, t, fence_rev)
        report.applied.append(t.name)
        report.puts += t.writes - len(t.deletes)
        report.deletes += len(t.deletes)
        return report
