"""Property tests of records.sync over random mixes of owned, foreign-owned and unowned etcd data."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from extdns.endpoint import FORCE_UPDATE_PROPERTY, Endpoint
from extdns.provider import SyncConfig, current_state, sync
from extdns.skydns import name_to_key
from tests.unit.test_memory_store import MemoryStore

OURS, OTHER = "default", "other"
CFG = SyncConfig(owner_id=OURS)
NAMES = (
    "foo.example.org",
    "a.example.org",
    "aa.example.org",
    "www.example.org",
    "x.www.example.org",
    "a-foo.example.org",
)
TYPE_SETS = (("A",), ("AAAA",), ("A", "AAAA"), ("CNAME",))
TARGETS = {
    "A": ("1.1.1.1", "2.2.2.2", "10.0.0.1"),
    "AAAA": ("2001:db8::1", "2001:db8::2"),
    "CNAME": ("lb1.example.net", "lb2.example.net"),
}
RESOURCES = ("service/default/one", "service/default/two", "ingress/web/three")
FREE_OR_OURS = ("none", "ours", "orphan-ours")
KINDS = (*FREE_OR_OURS, "other", "unowned", "orphan-other")


def _value(**fields: object) -> bytes:
    return json.dumps(fields, separators=(",", ":")).encode()


def _heritage(owner: str, resource: str) -> str:
    return f'"heritage=external-dns,external-dns/owner={owner},external-dns/resource={resource}"'


@dataclass
class World:
    values: dict[str, bytes] = field(default_factory=dict)
    protected: set[str] = field(default_factory=set)
    kinds: dict[str, str] = field(default_factory=dict)
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def key(self, name: str) -> str:
        return f"{name_to_key(name)}/{next(self.counter):08x}"

    def add(self, key: str, value: bytes, protect: bool) -> None:
        self.values[key] = value
        if protect:
            self.protected.add(key)


@st.composite
def worlds(draw: st.DrawFn) -> World:
    """ExternalDNS-style data (random suffixes; new, old, merged ownership) plus foreign and manual data."""
    world = World()
    for name in NAMES:
        kind = draw(st.sampled_from(KINDS))
        world.kinds[name] = kind
        if kind == "none":
            continue
        owner = OURS if kind in FREE_OR_OURS else OTHER
        protect = kind not in FREE_OR_OURS
        resource = draw(st.sampled_from(RESOURCES))
        if kind.startswith("orphan"):
            world.add(
                world.key(CFG.mapper.txt_name(name, "A")),
                _value(text=_heritage(owner, resource), targetstrip=1),
                protect,
            )
            continue
        types = draw(st.sampled_from(TYPE_SETS))
        style = "none" if kind == "unowned" else draw(st.sampled_from(("new", "old-key", "old-merged")))
        if name.startswith("a-"):  # its old-format TXT name reads as foo's new-format one, as upstream
            style = "none" if style == "none" else "new"
        merged = False
        for record_type in types:
            targets = draw(
                st.lists(st.sampled_from(TARGETS[record_type]), min_size=1, max_size=2, unique=True)
            )
            for target in targets:
                fields: dict[str, object] = {"host": target, "targetstrip": 1}
                ttl = draw(st.sampled_from((0, 30)))
                if ttl:
                    fields["ttl"] = ttl
                if style == "old-merged" and record_type != "AAAA" and not merged:
                    fields["text"], merged = _heritage(owner, resource), True
                if kind == "unowned" and len(types) == 1 and len(targets) == 1 and draw(st.booleans()):
                    world.add(name_to_key(name), _value(host=target), protect)
                else:
                    world.add(world.key(name), _value(**fields), protect)
            if style == "new" or (style.startswith("old") and record_type == "AAAA"):
                ownership = _value(text=_heritage(owner, resource), targetstrip=1)
                world.add(world.key(CFG.mapper.txt_name(name, record_type)), ownership, protect)
        if style == "old-key" or (style == "old-merged" and not merged):
            world.add(world.key(name), _value(text=_heritage(owner, resource), targetstrip=1), protect)
    return world


@st.composite
def desired_states(draw: st.DrawFn) -> list[Endpoint]:
    endpoints = []
    for name in NAMES:
        if not draw(st.booleans()):
            continue
        resource = draw(st.sampled_from(RESOURCES))
        for record_type in draw(st.sampled_from(TYPE_SETS)):
            targets = draw(
                st.lists(st.sampled_from(TARGETS[record_type]), min_size=1, max_size=3, unique=True)
            )
            ttl = draw(st.sampled_from((0, 0, 60)))
            endpoints.append(Endpoint(name, record_type, tuple(targets), ttl, labels={"resource": resource}))
    return endpoints


def _apply(world: World, desired: list[Endpoint]) -> MemoryStore:
    store = MemoryStore(world.values)
    result = sync(store.kvs(), desired, CFG)
    assert result.rejected == ()
    store.apply(result.ops)
    return store


@settings(max_examples=300, deadline=None)
@given(worlds(), desired_states())
def test_foreign_and_unowned_keys_are_never_modified(world: World, desired: list[Endpoint]) -> None:
    after = _apply(world, desired).values()
    for key in world.protected:
        assert after.get(key) == world.values[key], key


def _children(values: dict[str, bytes], name: str) -> list[dict[str, object]]:
    """The values one label below a name's key, where its records (and ownership TXT) live."""
    base = name_to_key(name) + "/"
    return [
        json.loads(raw) for key, raw in values.items() if key.startswith(base) and "/" not in key[len(base) :]
    ]


@settings(max_examples=300, deadline=None)
@given(worlds(), desired_states())
def test_owned_and_free_names_reach_the_desired_state(world: World, desired: list[Endpoint]) -> None:
    store = _apply(world, desired)
    state = current_state(store.kvs(), CFG)
    values = store.values()
    assert state.rejected == ()
    for name, kind in world.kinds.items():
        if kind not in FREE_OR_OURS:
            continue
        wanted = {endpoint.record_type: endpoint for endpoint in desired if endpoint.dns_name == name}
        held = {endpoint.record_type: endpoint for endpoint in state.endpoints_at(name)}
        assert held.keys() == wanted.keys(), name
        for record_type, endpoint in held.items():
            want = wanted[record_type]
            assert endpoint.targets == want.targets
            assert want.ttl == 0 or endpoint.ttl == want.ttl
            assert endpoint.owner == OURS
            assert endpoint.resource == want.resource
            assert FORCE_UPDATE_PROPERTY not in endpoint.provider_specific
            ownership = [
                v for v in _children(values, CFG.mapper.txt_name(name, record_type)) if "host" not in v
            ]
            assert ownership == [{"text": _heritage(OURS, want.resource), "targetstrip": 1}]
        if not name.startswith("a-"):  # a-foo's directory holds foo's ownership TXT
            assert all("text" not in value for value in _children(values, name)), name


@settings(max_examples=300, deadline=None)
@given(worlds(), desired_states())
def test_a_second_sync_writes_nothing(world: World, desired: list[Endpoint]) -> None:
    store = _apply(world, desired)
    assert sync(store.kvs(), desired, CFG).ops == ()


@settings(max_examples=200, deadline=None)
@given(worlds(), desired_states())
def test_per_name_syncs_reach_the_same_state_as_a_full_sync(world: World, desired: list[Endpoint]) -> None:
    full = _apply(world, desired).values()
    store = MemoryStore(world.values)
    for name in NAMES:
        scoped = [endpoint for endpoint in desired if endpoint.dns_name == name]
        store.apply(sync(store.kvs(), scoped, CFG, names=frozenset({name})).ops)
    assert store.values() == full
