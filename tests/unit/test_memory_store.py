"""An in-memory etcd stand-in that applies NameOps the way the adapter's conditional transaction does."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from extdns.provider import KeyValue, NameOps


class ConditionFailed(Exception):
    pass


class MemoryStore:
    def __init__(self, values: dict[str, bytes] | None = None) -> None:
        self.revision = 1
        self.data: dict[str, tuple[bytes, int]] = {}
        for key, value in (values or {}).items():
            self.put(key, value)

    def put(self, key: str, value: bytes) -> None:
        self.revision += 1
        self.data[key] = (value, self.revision)

    def kvs(self) -> list[KeyValue]:
        return [KeyValue(key, value, revision) for key, (value, revision) in sorted(self.data.items())]

    def values(self) -> dict[str, bytes]:
        return {key: value for key, (value, _) in self.data.items()}

    def apply(self, ops: Iterable[NameOps]) -> None:
        for op in ops:
            for key, revision in op.expected.items():
                held = self.data[key][1] if key in self.data else 0
                if held != revision:
                    raise ConditionFailed(f"{key}: expected revision {revision}, store has {held}")
            self.revision += 1
            for key in op.deletes:
                del self.data[key]
            for key, value in op.puts.items():
                self.data[key] = (value, self.revision)


def _op(**fields: object) -> NameOps:
    base: dict[str, object] = {"name": "x", "puts": {}, "deletes": (), "expected": {}, "log_lines": ()}
    return NameOps(**{**base, **fields})  # type: ignore[arg-type]


def test_store_applies_puts_and_deletes_when_revisions_hold() -> None:
    store = MemoryStore({"/a": b"1"})
    store.apply([_op(puts={"/b": b"2"}, deletes=("/a",), expected={"/a": 2, "/b": 0})])
    assert store.values() == {"/b": b"2"}


def test_store_refuses_a_stale_view() -> None:
    store = MemoryStore({"/a": b"1"})
    store.put("/a", b"changed")
    with pytest.raises(ConditionFailed):
        store.apply([_op(deletes=("/a",), expected={"/a": 2})])


def test_store_refuses_to_create_a_key_that_appeared() -> None:
    store = MemoryStore({"/b": b"someone else"})
    with pytest.raises(ConditionFailed):
        store.apply([_op(puts={"/b": b"mine"}, expected={"/b": 0})])
