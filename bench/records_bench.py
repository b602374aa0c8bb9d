"""Record sync speed: the pure core (no-op resync, cold plan) and a real etcd (cold apply, no-op resync).

Usage: python -m bench.records_bench [--names 10000 100000] [--pure-only]

Each name is one A record plus its ownership TXT (two etcd keys). The etcd rows run the adapter
(`controller.convergence.converge` over `adapters.etcd_records.EtcdStore`); the no-op rows must write nothing,
which the etcd revision before and after proves.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pyetcd

from extdns.endpoint import Endpoint
from extdns.provider import sync
from extdns.stored import KeyValue
from extdns.syncconfig import SyncConfig

PREFIX = "/skydns"
CFG = SyncConfig(owner_id="bench", prefix=PREFIX)
T = TypeVar("T")


@dataclass
class Row:
    """One measured case."""

    case: str
    names: int
    wall: float
    cpu: float
    writes: int | str = "-"
    txns: int | str = "-"
    revisions: tuple[int, int] | None = None  # etcd revision before and after

    def cells(self) -> list[str]:
        etcd = isinstance(self.txns, int) and isinstance(self.writes, int) and self.writes
        rate = f"{int(self.writes) / self.wall:,.0f}" if etcd else "-"
        return [
            self.case,
            f"{self.names:,}",
            f"{self.wall:.2f}",
            f"{self.cpu:.2f}",
            str(self.writes),
            str(self.txns),
            rate,
            "-" if self.revisions is None else "→".join(map(str, self.revisions)),
        ]


HEADER = ["case", "names", "wall s", "CPU s", "etcd writes", "txns", "writes/s", "revision before→after"]


def timed(fn: Callable[[], T]) -> tuple[T, float, float]:
    """Run fn; return its result, wall seconds and CPU seconds of this process."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def desired_endpoints(count: int) -> list[Endpoint]:
    """N A records, hN.bench.example.org -> 10.x.y.z, each claimed by service/bench/hN."""
    return [
        Endpoint(
            f"h{i}.bench.example.org",
            "A",
            (f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",),
            labels={"resource": f"service/bench/h{i}"},
        )
        for i in range(count)
    ]


def written_kvs(desired: list[Endpoint]) -> list[KeyValue]:
    """The keys a cold sync writes for desired, as the adapter would read them back."""
    ops = sync([], desired, CFG).ops
    puts = sorted((key, value) for op in ops for key, value in op.puts.items())  # etcd's order
    return [KeyValue(key, value, revision) for revision, (key, value) in enumerate(puts, start=2)]


def pure_rows(count: int) -> list[Row]:
    desired = desired_endpoints(count)
    cold, wall, cpu = timed(lambda: sync([], desired, CFG))
    rows = [Row("pure: cold plan (empty etcd)", count, wall, cpu, sum(len(op.puts) for op in cold.ops))]
    del cold  # its garbage would weigh on the next measurement
    kvs = written_kvs(desired)
    noop, wall, cpu = timed(lambda: sync(kvs, desired, CFG))
    assert not noop.ops and not noop.rejected, "a no-op resync planned writes"
    rows.append(Row("pure: no-op resync (sync only)", count, wall, cpu, 0))
    return rows


def revision(client: pyetcd.Etcd3Client) -> int:
    return int(client.get_response("/").header.revision)


@contextmanager
def etcd_client() -> Iterator[pyetcd.Etcd3Client]:
    from adapters.etcd_client import EtcdSettings, connect
    from process.logs import configure
    from tools import testenv

    configure("warning")  # one info line per written key would dominate the cold apply

    workdir = Path(tempfile.mkdtemp(prefix="records-bench-"))
    proc, url = testenv.start_etcd(workdir, "etcd-bench")
    client = connect(EtcdSettings.from_env({"ETCD_URLS": url}))
    try:
        yield client
    finally:
        client.close()
        proc.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def etcd_rows(client: pyetcd.Etcd3Client, count: int) -> list[Row]:
    from adapters.etcd_records import EtcdStore
    from controller.convergence import Wanted, converge

    prefix = f"{PREFIX}-{count}"
    cfg = SyncConfig(owner_id=CFG.owner_id, prefix=prefix)
    store = EtcdStore(client, prefix)
    desired = desired_endpoints(count)
    rows = []
    for case in ("etcd: cold plan + apply", "etcd: no-op resync (read + sync)"):
        before = revision(client)
        out, wall, cpu = timed(lambda: converge(store, cfg, lambda todo: Wanted(desired, todo)))
        revisions = (before, revision(client))
        assert not out.unresolved and not out.rejected, (out.unresolved, out.rejected[:3])
        rows.append(Row(case, count, wall, cpu, out.report.writes, out.report.txns, revisions))
    cold, noop = rows
    assert cold.writes == 2 * count, "the cold apply did not write every key"
    assert noop.writes == 0 and noop.revisions is not None and noop.revisions[0] == noop.revisions[1]
    kvs, wall, cpu = timed(lambda: store.read(store.begin()).kvs)
    assert len(kvs) == 2 * count
    rows.append(Row("etcd: read prefix only", count, wall, cpu))
    return rows


def table(rows: list[Row]) -> str:
    cells = [HEADER, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(HEADER))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |" for line in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--pure-only", action="store_true", help="skip the real etcd rows")
    args = parser.parse_args()
    rows: list[Row] = []
    for count in args.names:
        rows += pure_rows(count)
    if not args.pure_only:
        with etcd_client() as client:
            for count in args.names:
                rows += etcd_rows(client, count)
    print(f"{time.strftime('%Y-%m-%d')}, Python {platform.python_version()}, {platform.machine()}")
    print(table(rows))


if __name__ == "__main__":
    main()
