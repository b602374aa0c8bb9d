"""Redis bookkeeping: names each object claims, who claims each name, which objects have a message waiting.

The claims index lets a per-object task find the names an object claimed before (to clean them up)
and every other object that claims the same names (so its result equals a full resync's). It is a
cache of the sources' output: every resync rewrites it from the full desired state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import redis

from extdns.sources import ObjectRef
from tasks.world import parse_ref, ref_key

NS = "extdns"
PENDING = f"{NS}:pending"
OBJECT = f"{NS}:claims:"  # + Kind/ns/name -> set of DNS names
NAME = f"{NS}:claimants:"  # + DNS name -> set of Kind/ns/name
INFLIGHT = f"{NS}:inflight:"  # + task id -> set of Kind/ns/name the task took

# KEYS: pending, inflight:<task>; ARGV: how many extra, then the task's own objects.
TAKE = """
local taken = {}
for i = 2, #ARGV do
  if redis.call('SREM', KEYS[1], ARGV[i]) == 1 then table.insert(taken, ARGV[i]) end
end
local n = tonumber(ARGV[1])
if n > 0 then
  for _, m in ipairs(redis.call('SPOP', KEYS[1], n)) do table.insert(taken, m) end
end
if #taken > 0 then
  redis.call('SADD', KEYS[2], unpack(taken))
  redis.call('EXPIRE', KEYS[2], 86400)
end
return redis.call('SMEMBERS', KEYS[2])
"""


def _text(values: Iterable[bytes | str]) -> set[str]:
    return {v.decode() if isinstance(v, bytes) else v for v in values}


class Claims:
    """The index and the pending set, on one Redis."""

    def __init__(self, client: redis.Redis[bytes]) -> None:
        self.r = client
        self._take = client.register_script(TAKE)

    # ------------------------------------------------------------ pending messages (coalescing)

    def mark_pending(self, keys: list[str]) -> list[bool]:
        """Mark objects as having a message waiting; True for those that had none (publish those)."""
        pipe = self.r.pipeline(transaction=False)
        for key in keys:
            pipe.sadd(PENDING, key)
        return [bool(added) for added in pipe.execute()]

    def take(self, task_id: str, own: list[str], extra: int) -> list[str]:
        """The objects a task should read: its own still-pending ones plus up to `extra` other pending ones.

        Taken objects leave the pending set (a change after this gets a message of its own) and are
        recorded under the task id until `done`, so a redelivered task (its worker died) takes them
        again. An own object that is no longer pending was taken by another task after this
        message was published, and is skipped here.
        """
        return [m.decode() if isinstance(m, bytes) else m
                for m in self._take(keys=[PENDING, INFLIGHT + task_id], args=[extra, *own])]  # fmt: skip

    def done(self, task_id: str) -> None:
        self.r.delete(INFLIGHT + task_id)

    # ------------------------------------------------------------ claims

    def names_of(self, refs: Iterable[ObjectRef]) -> dict[ObjectRef, set[str]]:
        refs = list(refs)
        pipe = self.r.pipeline(transaction=False)
        for ref in refs:
            pipe.smembers(OBJECT + ref_key(ref))
        return {ref: _text(names) for ref, names in zip(refs, pipe.execute(), strict=True)}

    def claimants(self, names: Iterable[str]) -> set[ObjectRef]:
        pipe = self.r.pipeline(transaction=False)
        for name in names:
            pipe.smembers(NAME + name)
        return {parse_ref(key) for members in pipe.execute() for key in _text(members)}

    def record(
        self, now: Mapping[ObjectRef, Iterable[str]], before: Mapping[ObjectRef, Iterable[str]]
    ) -> None:
        """Store what the objects claim now, dropping what they claimed before and no longer do."""
        pipe = self.r.pipeline(transaction=True)
        for ref, names in now.items():
            key = ref_key(ref)
            current = set(names)
            for gone in set(before.get(ref, ())) - current:
                pipe.srem(NAME + gone, key)
            pipe.delete(OBJECT + key)
            if current:
                pipe.sadd(OBJECT + key, *current)
                for name in current:
                    pipe.sadd(NAME + name, key)
        pipe.execute()

    def rebuild(self, claims: Mapping[ObjectRef, Iterable[str]]) -> None:
        """Replace the whole index with the claims of a full resync, in one transaction."""
        stale = [k for pattern in (OBJECT + "*", NAME + "*") for k in self.r.scan_iter(pattern, count=1000)]
        pipe = self.r.pipeline(transaction=True)
        if stale:
            pipe.unlink(*stale)
        by_name: dict[str, list[str]] = {}
        for ref, names in claims.items():
            key = ref_key(ref)
            names = set(names)
            if names:
                pipe.sadd(OBJECT + key, *names)
            for name in names:
                by_name.setdefault(name, []).append(key)
        for name, keys in by_name.items():
            pipe.sadd(NAME + name, *keys)
        pipe.execute()
