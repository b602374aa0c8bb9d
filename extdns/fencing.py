"""Fencing: per-name etcd transactions that commit only if nothing was written to the name since the view.

Every writer reads the etcd revision R *before* it reads the cluster (and the claims index), reads
etcd at R, plans, and commits each name in one transaction guarded by:

- the name's **fence key**, outside the record prefix (CoreDNS and ExternalDNS never read it):
  its mod_revision must still be what it was at R (0: absent). Every commit to the name rewrites
  the fence, so any commit after R makes every writer whose view predates it lose;
- every record and ownership key read for the name: mod_revision unchanged since R (a foreign
  writer, e.g. ExternalDNS, changed or deleted nothing we rely on), and every key to be created
  still absent.

- the **markers** of the objects that claim the name in the writer's view (one key per object,
  beside the fences): unchanged since R, and moved by the commit.

A newer reader may decide there is nothing to write while an older writer still holds a plan
(the object was created and deleted while a resync was listing). So a reconcile task **touches**
what it looked at even when it writes nothing: the fence of every name it planned, and the
markers of its objects (`touch_objects` when they claim no name at all). The older writer's
guards then fail, and it re-reads.

Guards live on a lease (TTL `TOMBSTONE_TTL`), so they cost nothing once a name is idle; a name
deleted after R keeps its fence long enough for "created and deleted after R" to be seen (etcd's
comparisons cannot see a deleted key). A writer whose view is older than MAX_VIEW_AGE (well
under the TTL) does not commit at all; it re-reads.

The guards are per name: the fence and the exact keys, never a range over a subtree, so an apex
name (an Ingress for `example.org`) does not lock the zone below it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from extdns.name_writes import NameOps
from extdns.skydns import name_to_key

GUARD_ROOT = "/extdns/"  # fences and object markers: bookkeeping, never records
FENCE_ROOT = "/extdns/fence"
OBJECT_ROOT = "/extdns/object"
TOMBSTONE_TTL = 900  # seconds a guard key outlives the last write that moved it (at least TTL - 60 s)
MAX_VIEW_AGE = 300.0  # a writer whose view is older than this re-reads instead of committing


def fence_key(name: str, prefix: str) -> str:
    """The fence of a DNS name: `/extdns/fence` + the name's record key (prefix included)."""
    return FENCE_ROOT + name_to_key(name, prefix)


def fence_range(prefix: str) -> str:
    """The key prefix under which every fence of a record prefix lives."""
    return f"{FENCE_ROOT}{prefix}/"


def marker_key(obj: str, prefix: str) -> str:
    """The marker of a Kubernetes object (`Kind/namespace/name`) for a record prefix."""
    return f"{OBJECT_ROOT}{prefix}/{obj}"


def marker_range(prefix: str) -> str:
    """The key prefix under which every object marker of a record prefix lives."""
    return f"{OBJECT_ROOT}{prefix}/"


@dataclass(frozen=True)
class NameTxn:
    """One name's transaction: all `compares` (key, expected mod_revision; 0 = absent) must hold.

    `puts` includes the guard keys (empty values: the name's fence and the markers of the objects
    behind it), so every commit moves them.
    """

    name: str
    compares: tuple[tuple[str, int], ...]
    puts: tuple[tuple[str, bytes], ...]
    deletes: tuple[str, ...]
    fence: str

    @property
    def writes(self) -> int:
        """Record writes: puts of records (not guards), and deletes."""
        return sum(not k.startswith(GUARD_ROOT) for k, _ in self.puts) + len(self.deletes)


def _guards(keys: Iterable[str], read: Mapping[str, int]) -> dict[str, int]:
    return {k: read.get(k, 0) for k in keys}


def fenced(op: NameOps, prefix: str, read: Mapping[str, int], objects: Iterable[str] = ()) -> NameTxn:
    """The guarded transaction for one name's ops, from the guard revisions read at the writer's R.

    `objects` are the objects claiming the name in the writer's view: their markers are guarded
    and moved too.
    """
    fence = fence_key(op.name, prefix)
    guards = _guards([fence, *(marker_key(o, prefix) for o in objects)], read)
    return NameTxn(
        name=op.name,
        compares=tuple(sorted({**guards, **op.expected}.items())),
        puts=tuple(sorted({**op.puts, **dict.fromkeys(guards, b"")}.items())),
        deletes=op.deletes,
        fence=fence,
    )


def touch(name: str, prefix: str, read: Mapping[str, int], objects: Iterable[str] = ()) -> NameTxn:
    """Move a name's guards without writing records: "my newer view found nothing to do here"."""
    fence = fence_key(name, prefix)
    guards = _guards([fence, *(marker_key(o, prefix) for o in objects)], read)
    return NameTxn(
        name, tuple(sorted(guards.items())), tuple(sorted(dict.fromkeys(guards, b"").items())), (), fence
    )


def touch_objects(objects: Iterable[str], prefix: str, read: Mapping[str, int]) -> NameTxn:
    """Move object markers alone.

    A task whose objects claim no name (gone, or never named) still tells an older writer of
    those objects that a newer view has been acted on.
    """
    guards = _guards(sorted(marker_key(o, prefix) for o in objects), read)
    first = next(iter(guards))
    return NameTxn(
        f"objects {first}", tuple(guards.items()), tuple(dict.fromkeys(guards, b"").items()), (), first
    )


def rebase(txn: NameTxn, moved: Mapping[str, int]) -> NameTxn:
    """The transaction with its guards on keys this writer itself moved since R set to where it left them.

    One writer's names may share a guard (an object claiming two names): once its own commit for
    the first name moved the marker, the second name's guard must expect that revision, not R's.
    """
    if not moved or not any(k in moved for k, _ in txn.compares):
        return txn
    compares = tuple((k, moved.get(k, rev)) for k, rev in txn.compares)
    return NameTxn(txn.name, compares, txn.puts, txn.deletes, txn.fence)


def keys_written(txn: NameTxn) -> set[str]:
    """Every key the transaction puts or deletes."""
    return {k for k, _ in txn.puts} | set(txn.deletes)
