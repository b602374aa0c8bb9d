"""Redis bookkeeping: which objects wait for a task, which task holds each object, and who claims each name.

- **Pending** (a sorted set scored by when the emitter marked it): an object with a message on its
  way. A mark older than `stale` seconds counts as lost (its publisher died between the mark and the
  publish), so the next event for the object publishes again.
- **Locks**: a reconcile task holds each object it took until it committed, so two tasks never
  converge one object at once (a newer reader that decided nothing must not be overtaken by an
  older writer). A task's message for an object held elsewhere waits and retries.
- **Claims** (sorted sets scored by when recorded, on Redis's clock): the names each object claims,
  and the objects claiming each name. A task adds what its objects claim *before* it commits and
  drops what they stopped claiming after; a resync rebuild keeps every entry that a task still
  in flight may have recorded. The index is therefore never missing a claim that etcd reflects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import redis

from controller.refs import parse_ref, ref_key
from extdns.sources import ObjectRef

NS = "extdns"
PENDING = f"{NS}:waiting"  # zset: Kind/ns/name -> when marked
LOCK = f"{NS}:lock:"  # + Kind/ns/name -> id of the task holding it
INFLIGHT = f"{NS}:inflight:"  # + task id -> set of Kind/ns/name the task took
OBJECT = f"{NS}:names-of:"  # + Kind/ns/name -> zset of DNS names (score: when recorded)
NAME = f"{NS}:claimants-of:"  # + DNS name -> zset of Kind/ns/name (score: when recorded)
NOOP = f"{NS}:resync-noop"  # hash: shard (i/n) -> what it last found nothing to do on; "skipped"

# KEYS: pending; ARGV: stale seconds, then objects. Returns 1 for each object to publish.
MARK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local stale = tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV do
  local s = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if (not s) or tonumber(s) < now - stale then
    redis.call('ZADD', KEYS[1], now, ARGV[i])
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
"""

# KEYS: pending, inflight:<task>; ARGV: extra, task id, lock ttl, lock prefix, then the task's own objects.
# Returns {objects the task holds, own objects another task holds (still pending)}.
TAKE = """
local task, ttl, lp = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local held, blocked = {}, {}
local function free(m)
  local holder = redis.call('GET', lp .. m)
  return (not holder) or holder == task
end
local function grab(m)
  redis.call('SET', lp .. m, task, 'EX', ttl)
  redis.call('ZREM', KEYS[1], m)
  redis.call('SADD', KEYS[2], m)
end
for _, m in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if free(m) then redis.call('SET', lp .. m, task, 'EX', ttl) else redis.call('SREM', KEYS[2], m) end
end
for i = 5, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    if free(ARGV[i]) then grab(ARGV[i]) else blocked[#blocked + 1] = ARGV[i] end
  end
end
local n = tonumber(ARGV[1])
if n > 0 then
  local got = 0
  for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, 2 * n)) do
    if got >= n then break end
    if free(m) then grab(m); got = got + 1 end
  end
end
redis.call('EXPIRE', KEYS[2], ttl)
return {redis.call('SMEMBERS', KEYS[2]), blocked}
"""

# KEYS: inflight:<task>; ARGV: task id, lock prefix. Releases the task's locks (only those it still holds).
DONE = """
for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('GET', ARGV[2] .. m) == ARGV[1] then redis.call('DEL', ARGV[2] .. m) end
end
redis.call('DEL', KEYS[1])
"""

# KEYS: the lock; ARGV: the token. Deletes the lock only if it is still ours.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


# ARGV: since, object prefix, name prefix, then per object: its key, how many names, the names.
# Drops every index entry scored before `since`, then records the claims at `since` (newer kept):
# one call, so the resync hands Redis its claims in one command instead of two per object and name.
REBUILD = """
local since, op, np = ARGV[1], ARGV[2], ARGV[3]
local below = '(' .. since
for _, prefix in ipairs({op, np}) do
  local cursor = '0'
  repeat
    local page = redis.call('SCAN', cursor, 'MATCH', prefix .. '*', 'COUNT', 1000)
    cursor = page[1]
    for _, k in ipairs(page[2]) do redis.call('ZREMRANGEBYSCORE', k, '-inf', below) end
  until cursor == '0'
end
local function add(key, members)
  for first = 1, #members, 500 do
    local args = {}
    for j = first, math.min(first + 499, #members) do
      args[#args + 1] = since
      args[#args + 1] = members[j]
    end
    redis.call('ZADD', key, 'GT', unpack(args))
  end
end
local claimants = {}
local i = 4
while i <= #ARGV do
  local key, n = ARGV[i], tonumber(ARGV[i + 1])
  local names = {}
  for j = i + 2, i + 1 + n do
    names[#names + 1] = ARGV[j]
    local c = claimants[ARGV[j]]
    if not c then c = {}; claimants[ARGV[j]] = c end
    c[#c + 1] = key
  end
  if n > 0 then add(op .. key, names) end
  i = i + 2 + n
end
for name, keys in pairs(claimants) do add(np .. name, keys) end
return 1
"""


def _text(values: Iterable[bytes | str]) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else v for v in values]


def _record(pipe: redis.client.Pipeline[bytes], claims: Mapping[ObjectRef, Iterable[str]], at: float) -> None:
    """Queue both directions of the claims at score `at` (a newer score already there is kept)."""
    by_name: dict[str, dict[str | bytes, float]] = {}
    for ref, names in claims.items():
        key = ref_key(ref)
        names = set(names)
        if names:
            pipe.zadd(OBJECT + key, dict.fromkeys(names, at), gt=True)
        for name in names:
            by_name.setdefault(name, {})[key] = at
    for name, keys in by_name.items():
        pipe.zadd(NAME + name, keys, gt=True)


@dataclass
class Taken:
    """What a task may work on: the objects it holds, and its own objects that another task holds."""

    held: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)


class Claims:
    """The pending set, the object locks and the claims index, on one Redis."""

    def __init__(self, client: redis.Redis[bytes], *, stale: float = 60.0, lock_ttl: int = 300) -> None:
        self.r = client
        self.stale = stale
        self.lock_ttl = lock_ttl
        self._mark = client.register_script(MARK)
        self._take = client.register_script(TAKE)
        self._done = client.register_script(DONE)
        self._release = client.register_script(RELEASE)
        self._rebuild = client.register_script(REBUILD)

    def now(self) -> float:
        """Redis's clock: every process scores claims on the same one."""
        seconds, micros = self.r.time()
        return float(seconds) + float(micros) / 1e6

    # ------------------------------------------------------------ pending messages and locks

    def mark_pending(self, keys: list[str]) -> list[bool]:
        """Mark objects as having a message on its way; True for those to publish now."""
        if not keys:
            return []
        return [bool(x) for x in self._mark(keys=[PENDING], args=[self.stale, *keys])]

    def take(self, task_id: str, own: list[str], extra: int) -> Taken:
        """Lock and take this task's own still-pending objects, plus up to `extra` other waiting ones.

        Taken objects leave the pending set (a change after this gets a message of its own) and stay
        locked under the task id until `done`, so a redelivered or retried task (same id) keeps them.
        An own object that is no longer pending was taken by another task after this message was
        published: skipped. One that is pending but locked by another task is `blocked`: retry later.
        """
        held, blocked = self._take(keys=[PENDING, INFLIGHT + task_id],
                                   args=[extra, task_id, self.lock_ttl, LOCK, *own])  # fmt: skip
        return Taken(sorted(_text(held)), sorted(_text(blocked)))

    def done(self, task_id: str) -> None:
        """Release the task's objects."""
        self._done(keys=[INFLIGHT + task_id], args=[task_id, LOCK])

    # ------------------------------------------------------------ the sharded resync's no-op notes

    def note_noop(self, shard: str, note: str | None) -> None:
        """What a shard found nothing to do on (None: it wrote, or could not tell)."""
        if note is None:
            self.r.hdel(NOOP, shard)
        else:
            self.r.hset(NOOP, shard, note)

    def noop_notes(self) -> dict[str, str]:
        """Every shard's last no-op note, and `skipped`: the rounds skipped since the notes were made."""
        return {k.decode(): v.decode() for k, v in self.r.hgetall(NOOP).items()}

    def note_skip(self) -> None:
        self.r.hincrby(NOOP, "skipped", 1)

    def forget_noop(self) -> None:
        """A full round begins: the shards write their notes afresh."""
        self.r.delete(NOOP)

    def release(self, key: str, token: str) -> bool:
        """Delete a lock key only if it still holds `token` (compare-and-delete)."""
        return bool(self._release(keys=[key], args=[token]))

    # ------------------------------------------------------------ claims

    def names_of(self, refs: Iterable[ObjectRef]) -> dict[ObjectRef, set[str]]:
        refs = list(refs)
        pipe = self.r.pipeline(transaction=False)
        for ref in refs:
            pipe.zrange(OBJECT + ref_key(ref), 0, -1)
        return {ref: set(_text(names)) for ref, names in zip(refs, pipe.execute(), strict=True)}

    def claimants(self, names: Iterable[str]) -> set[ObjectRef]:
        pipe = self.r.pipeline(transaction=False)
        for name in names:
            pipe.zrange(NAME + name, 0, -1)
        return {parse_ref(key) for members in pipe.execute() for key in _text(members)}

    def add(self, claims: Mapping[ObjectRef, Iterable[str]]) -> None:
        """Record claims (never removes any): called before the writes that reflect them are committed."""
        pipe = self.r.pipeline(transaction=True)
        _record(pipe, claims, self.now())
        pipe.execute()

    def prune(
        self, now: Mapping[ObjectRef, Iterable[str]], before: Mapping[ObjectRef, Iterable[str]]
    ) -> None:
        """Drop the names the (locked) objects claimed before and no longer claim, after the commit."""
        pipe = self.r.pipeline(transaction=True)
        for ref, names in now.items():
            key = ref_key(ref)
            gone = set(before.get(ref, ())) - set(names)
            if gone:
                pipe.zrem(OBJECT + key, *gone)
            for name in gone:
                pipe.zrem(NAME + name, key)
        pipe.execute()

    def rebuild(self, claims: Mapping[ObjectRef, Iterable[str]], since: float) -> None:
        """Make the index the resync's claims, keeping every entry recorded at or after `since`.

        The caller passes when its LIST began (Redis clock) less the oldest view age that may still
        commit: an entry recorded after that may come from a task whose commit the resync's view
        does not show yet, and survives (the task prunes it itself once it no longer holds).
        """
        args: list[str | float] = [repr(since), OBJECT, NAME]
        for ref, names in claims.items():
            unique = set(names)
            args += [ref_key(ref), len(unique), *unique]
        self._rebuild(keys=[], args=args)
