"""Fencing: per-name etcd transactions that commit only if nothing was written to the name since the view.

Every writer reads the etcd revision R *before* it reads the cluster (and the claims index), reads
etcd at R, plans, and commits each name in one transaction guarded by:

- the name's **fence key**, outside the record prefix (CoreDNS and ExternalDNS never read it):
  its mod_revision must still be what it was at R (0: absent). Every commit to the name rewrites
  the fence, so any commit after R makes every writer whose view predates it lose;
- every record and ownership key read for the name: mod_revision unchanged since R (a foreign
  writer, e.g. ExternalDNS, changed or deleted nothing we rely on), and every key to be created
  still absent.

A reconcile task also **touches** the fence of every name it planned and found nothing to write
for: a newer reader that decided "nothing to do" (the object is gone, and an older writer has not
committed its create yet) still moves the fence, so the older writer loses.

Fences live on a lease (TTL `TOMBSTONE_TTL`), so they cost nothing once a name is idle; a name
deleted after R keeps its fence long enough for "created and deleted after R" to be seen (etcd's
comparisons cannot see a deleted key). A writer whose view is older than MAX_VIEW_AGE (well
under the TTL) does not commit at all; it re-reads.

The guards are per name: the fence and the exact keys, never a range over a subtree, so an apex
name (an Ingress for `example.org`) does not lock the zone below it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from extdns.ops import NameOps
from extdns.skydns import name_to_key

FENCE_ROOT = "/extdns/fence"
TOMBSTONE_TTL = 900  # seconds a fence outlives the last write to its name (at least TTL - 60 s)
MAX_VIEW_AGE = 300.0  # a writer whose view is older than this re-reads instead of committing


def fence_key(name: str, prefix: str) -> str:
    """The fence of a DNS name: `/extdns/fence` + the name's record key (prefix included)."""
    return FENCE_ROOT + name_to_key(name, prefix)


def fence_range(prefix: str) -> str:
    """The key prefix under which every fence of a record prefix lives."""
    return f"{FENCE_ROOT}{prefix}/"


@dataclass(frozen=True)
class NameTxn:
    """One name's transaction: all `compares` (key, expected mod_revision; 0 = absent) must hold.

    `puts` includes the fence itself (empty value), so every commit moves it.
    """

    name: str
    compares: tuple[tuple[str, int], ...]
    puts: tuple[tuple[str, bytes], ...]
    deletes: tuple[str, ...]
    fence: str

    @property
    def writes(self) -> int:
        """Record writes (puts besides the fence, and deletes)."""
        return len(self.puts) - 1 + len(self.deletes)


def fenced(op: NameOps, prefix: str, fences: Mapping[str, int]) -> NameTxn:
    """The guarded transaction for one name's ops, from the fence revisions read at the writer's R."""
    fence = fence_key(op.name, prefix)
    return NameTxn(
        name=op.name,
        compares=tuple(sorted({fence: fences.get(fence, 0), **op.expected}.items())),
        puts=tuple(sorted({**op.puts, fence: b""}.items())),
        deletes=op.deletes,
        fence=fence,
    )


def touch(name: str, prefix: str, fences: Mapping[str, int]) -> NameTxn:
    """Move a name's fence without writing records: "my newer view found nothing to do here"."""
    fence = fence_key(name, prefix)
    return NameTxn(name, ((fence, fences.get(fence, 0)),), ((fence, b""),), (), fence)
