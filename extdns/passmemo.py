"""A memo of one pass over many items for the next pass: what was computed, kept while its inputs hold."""

from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class PassMemo(Generic[K, V]):
    """Results of the last pass by a key that names all their inputs; made under one config object.

    A pass starts with `begin(config)` (another config forgets everything), looks each item up,
    stores what it computed or reused, and ends with `end()`: only the entries of that pass are kept,
    so the memo never holds more than one pass's items.
    """

    def __init__(self) -> None:
        self.config: object = None
        self.last: dict[K, V] = {}
        self.next: dict[K, V] = {}
        self.hits = 0

    def begin(self, config: object) -> None:
        if config is not self.config:
            self.config, self.last = config, {}
        self.next, self.hits = {}, 0

    def get(self, key: K) -> V | None:
        found = self.last.get(key)
        if found is not None:
            self.hits += 1
        return found

    def put(self, key: K, value: V) -> None:
        self.next[key] = value

    def end(self) -> None:
        self.last, self.next = self.next, {}
