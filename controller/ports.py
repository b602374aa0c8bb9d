"""The controller's I/O, as small ports: the record store (etcd), the cluster (Kubernetes), the claims index.

The orchestration (`controller.convergence`, `controller.reconcile`) speaks only these; the adapters
implement them over etcd, the API server and Redis, and `tests/fakes.py` in memory, so every
interleaving of writers can be run deterministically in the unit tier.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from extdns.fencing import NameTxn
from extdns.sources import Cluster, ObjectRef
from extdns.stored import KeyValue


@dataclass(frozen=True)
class View:
    """The etcd revision a writer took before reading anything else, and when (monotonic seconds)."""

    revision: int
    taken: float


@dataclass
class Snapshot:
    """What etcd held at a view's revision: record keys, and the fences' mod revisions."""

    kvs: list[KeyValue]
    fences: dict[str, int]


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
class RecordsState:
    """How many record keys are under the prefix and the newest mod revision among them.

    Any write under the prefix changes it: a put raises the newest revision, a delete alone lowers
    the count. Equal states at two revisions mean the records did not change in between.
    """

    count: int
    newest: int

    @classmethod
    def of(cls, kvs: Sequence[KeyValue]) -> RecordsState:
        return cls(len(kvs), max((kv.mod_revision for kv in kvs), default=0))


class ViewExpired(Exception):
    """The view's revision is gone (compacted): the writer must take a new view."""


class RecordStore(Protocol):
    """etcd as the writers use it: a view first, reads at the view, fenced commits."""

    def begin(self) -> View: ...

    def read(self, view: View, keys: Sequence[str] | None = None, fences: Sequence[str] = ()) -> Snapshot: ...

    def apply(self, txns: Sequence[NameTxn]) -> ApplyReport: ...

    def state(self) -> RecordsState:
        """The records' state now (see RecordsState), cheaply."""
        ...


class ClusterReader(Protocol):
    """The API server as the sources need it (consistent reads)."""

    def read_all(self) -> Cluster: ...

    def read_some(self, refs: Iterable[ObjectRef]) -> list[dict[str, Any]]: ...

    def fingerprint(self, previous: Cluster) -> str:
        """A short text standing for `previous` (its objects' versions) that `matches` checks later."""
        ...

    def matches(self, fingerprint: str) -> bool:
        """Whether `read_all` would return the cluster this fingerprint stands for, cheaply."""
        ...

    def observe(self, objects: Sequence[dict[str, Any]]) -> None:
        """Tell each object its `metadata.generation` has been processed (`status.observedGeneration`)."""
        ...


class ClaimsIndex(Protocol):
    """Who claims which names (a superset of what etcd reflects)."""

    def names_of(self, refs: Iterable[ObjectRef]) -> dict[ObjectRef, set[str]]: ...

    def claimants(self, names: Iterable[str]) -> set[ObjectRef]: ...

    def add(self, claims: Mapping[ObjectRef, Iterable[str]]) -> None: ...

    def prune(
        self, now: Mapping[ObjectRef, Iterable[str]], before: Mapping[ObjectRef, Iterable[str]]
    ) -> None: ...
