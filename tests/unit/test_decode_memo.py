"""The resync's decode memo: a key read before at the same mod revision and value is not decoded again."""

from __future__ import annotations

import json
import random

import pytest

from extdns.stored import DecodeMemo, KeyValue, current_state
from extdns.syncconfig import SyncConfig

CFG = SyncConfig(owner_id="t", prefix="/skydns")


def kv(name: str, ip: str, revision: int, owner: str = "t") -> list[KeyValue]:
    path = "/skydns/" + "/".join(reversed(name.split(".")))
    head, _, rest = name.partition(".")
    txt_path = "/skydns/" + "/".join(reversed(f"a-{head}.{rest}".split(".")))
    text = f'"heritage=external-dns,external-dns/owner={owner},external-dns/resource=service/ns/{head}"'
    return [
        KeyValue(f"{path}/00000001", json.dumps({"host": ip, "targetstrip": 1}).encode(), revision),
        KeyValue(f"{txt_path}/00000002", json.dumps({"text": text, "targetstrip": 1}).encode(), revision),
    ]


def test_a_key_read_again_unchanged_is_not_decoded_again() -> None:
    memo = DecodeMemo()
    kvs = kv("web.example.org", "192.0.2.1", 5)
    first = current_state(kvs, CFG, memo)
    assert memo.hits == 0
    assert current_state(kvs, CFG, memo) == first
    assert memo.hits == 2


def test_a_value_rewritten_at_the_same_key_is_decoded_anew() -> None:
    memo = DecodeMemo()
    current_state(kv("web.example.org", "192.0.2.1", 5), CFG, memo)
    now = current_state(kv("web.example.org", "192.0.2.9", 6), CFG, memo)
    assert [e.targets for e in now.endpoints if e.record_type == "A"] == [("192.0.2.9",)]


def test_a_value_at_the_same_revision_but_other_bytes_is_decoded_anew() -> None:
    """Revisions can repeat with other values (etcd restored, another cluster): the bytes are compared too."""
    memo = DecodeMemo()
    current_state(kv("web.example.org", "192.0.2.1", 5), CFG, memo)
    now = current_state(kv("web.example.org", "192.0.2.9", 5), CFG, memo)
    assert [e.targets for e in now.endpoints if e.record_type == "A"] == [("192.0.2.9",)]


def test_another_config_forgets_the_memo() -> None:
    memo = DecodeMemo()
    kvs = kv("web.example.org", "192.0.2.1", 5, owner="other")
    current_state(kvs, CFG, memo)
    strict = SyncConfig(owner_id="t", prefix="/skydns", strictly_owned=True)
    assert current_state(kvs, strict, memo) == current_state(kvs, strict)
    assert memo.hits == 0


@pytest.mark.parametrize("seed", range(6))
def test_with_or_without_the_memo_every_pass_reads_the_same(seed: int) -> None:
    rng = random.Random(seed)
    memo = DecodeMemo()
    revision = 1
    held = {f"n{i}.example.org": kv(f"n{i}.example.org", f"192.0.2.{i}", 1) for i in range(20)}
    for _ in range(8):
        for _ in range(rng.randrange(0, 5)):
            name = f"n{rng.randrange(25)}.example.org"
            revision += 1
            if rng.random() < 0.25:
                held.pop(name, None)
            else:
                held[name] = kv(name, f"198.51.100.{rng.randrange(1, 250)}", revision, rng.choice(["t", "x"]))
        kvs = [k for pair in held.values() for k in pair]
        assert current_state(kvs, CFG, memo) == current_state(kvs, CFG)
        assert len(memo.last) == len(kvs), "one pass's keys, no more"
