"""Spec of current_state: etcd keys (ours, ExternalDNS's, foreign, junk) -> current endpoints."""

from __future__ import annotations

import json

import pytest

from extdns.endpoint import FORCE_UPDATE_PROPERTY
from extdns.provider import KeyValue, SyncConfig, current_state

CFG = SyncConfig(owner_id="default")
OWNED = '"heritage=external-dns,external-dns/owner=default,external-dns/resource=service/default/foo"'


def kv(key: str, **fields: object) -> KeyValue:
    return KeyValue(key, json.dumps(fields).encode(), 7)


def test_external_dns_keys_group_into_one_endpoint_per_name_and_type() -> None:
    state = current_state(
        [
            kv("/skydns/org/example/foo/1a2b3c4d", host="1.1.1.1", targetstrip=1, ttl=30),
            kv("/skydns/org/example/foo/5e6f7a8b", host="2.2.2.2", targetstrip=1, ttl=30),
            kv("/skydns/org/example/foo/9a9a9a9a", host="2001:db8::1", targetstrip=1),
            kv("/skydns/org/example/a-foo/0badc0de", text=OWNED, targetstrip=1),
        ],
        CFG,
    )
    assert [(e.dns_name, e.record_type, e.targets, e.ttl, e.owner) for e in state.endpoints] == [
        ("foo.example.org", "A", ("1.1.1.1", "2.2.2.2"), 30, "default"),
        ("foo.example.org", "AAAA", ("2001:db8::1",), 0, ""),
    ]
    assert state.endpoints[0].resource == "service/default/foo"
    assert state.rejected == ()


@pytest.mark.parametrize(
    ("key", "fields", "rtype", "targets"),
    [
        ("/skydns/org/example/www", {"host": "1.2.3.4"}, "A", ("1.2.3.4",)),
        (
            "/skydns/org/example/www/x",
            {"host": "Lb.Example.NET.", "targetstrip": 1},
            "CNAME",
            ("lb.example.net",),
        ),
        ("/skydns/org/example/www/x", {"host": "::ffff:10.0.0.1", "targetstrip": 1}, "A", ("10.0.0.1",)),
        ("/skydns/arpa/in-addr/10/0/0/1", {"host": "reverse.example.com"}, "PTR", ("reverse.example.com",)),
        ("/skydns/org/example/www/x", {"text": "v=spf1 -all", "targetstrip": 1}, "TXT", ("v=spf1 -all",)),
    ],
)
def test_host_classification(
    key: str, fields: dict[str, object], rtype: str, targets: tuple[str, ...]
) -> None:
    (endpoint,) = current_state([kv(key, **fields)], CFG).endpoints
    assert (endpoint.record_type, endpoint.targets) == (rtype, targets)


def test_text_merged_into_a_host_value_is_old_format_ownership() -> None:
    state = current_state(
        [kv("/skydns/org/example/foo/1a2b3c4d", host="1.1.1.1", text=OWNED, targetstrip=1)], CFG
    )
    (endpoint,) = state.endpoints
    assert (endpoint.record_type, endpoint.owner) == ("A", "default")
    assert endpoint.provider_specific[FORCE_UPDATE_PROPERTY] == "true"


def test_old_format_ownership_never_covers_aaaa() -> None:
    state = current_state(
        [
            kv("/skydns/org/example/foo/1", host="2001:db8::1", targetstrip=1),
            kv("/skydns/org/example/foo/2", text=OWNED, targetstrip=1),
        ],
        CFG,
    )
    assert [(e.record_type, e.owner, e.targets) for e in state.endpoints] == [
        ("A", "default", ()),  # the old-format TXT no record relies on, planned as an orphan
        ("AAAA", "", ("2001:db8::1",)),
    ]


def test_ownership_txt_without_record_is_an_endpoint_without_targets() -> None:
    state = current_state([kv("/skydns/org/example/cname-foo/1", text=OWNED, targetstrip=1)], CFG)
    assert [(e.dns_name, e.record_type, e.targets, e.owner) for e in state.endpoints] == [
        ("foo.example.org", "CNAME", (), "default")
    ]


def test_disagreeing_ownership_claims_count_as_foreign() -> None:
    state = current_state(
        [
            kv("/skydns/org/example/foo/1", host="1.1.1.1", targetstrip=1),
            kv("/skydns/org/example/a-foo/1", text=OWNED, targetstrip=1),
            kv(
                "/skydns/org/example/a-foo/2", text=OWNED.replace("owner=default", "owner=zed"), targetstrip=1
            ),
        ],
        CFG,
    )
    assert state.endpoints[0].owner == "zed"


def test_an_ownership_txt_without_owner_beside_ours_makes_the_record_nobodys() -> None:
    state = current_state(
        [
            kv("/skydns/org/example/foo/1", host="1.1.1.1", targetstrip=1),
            kv("/skydns/org/example/a-foo/1", text=OWNED, targetstrip=1),
            kv("/skydns/org/example/a-foo/2", text='"heritage=external-dns"', targetstrip=1),
        ],
        CFG,
    )
    assert state.endpoints[0].owner == ""


def test_canonical_data_is_not_flagged_for_rewrite() -> None:
    state = current_state(
        [
            kv("/skydns/org/example/foo/1a2b3c4d", host="1.1.1.1", targetstrip=1),
            kv("/skydns/org/example/a-foo/0badc0de", text=OWNED, targetstrip=1),
        ],
        CFG,
    )
    assert FORCE_UPDATE_PROPERTY not in state.endpoints[0].provider_specific


@pytest.mark.parametrize(
    ("key", "raw", "reason"),
    [
        ("/skydns/org/example/junk/1", b"{not json", "invalid JSON"),
        ("/skydns/org/example/ttl/1", b'{"host":"1.1.1.1","ttl":"3000"}', "field 'ttl'"),
        ("/skydns/org/example/neg/1", b'{"host":"1.1.1.1","ttl":-5}', "out of range"),
        ("/skydns/org/example/arr", b"[]", "not an object"),
        ("/skydns/org/Example/x", b'{"host":"1.1.1.1"}', "not lower-case"),
        ("/skydns/org/example/x/", b'{"host":"1.1.1.1"}', "not canonical"),
        ("/skydns/org//x", b'{"host":"1.1.1.1"}', "empty label"),
        ("/skydns/org/example/" + "x" * 64, b'{"host":"1.1.1.1"}', "longer than 63"),
        ("/elsewhere/org/x", b'{"host":"1.1.1.1"}', "not under the prefix"),
        ("/skydns/org/example/empty", b"{}", "neither host nor text"),
        ("/skydns/org/x", b'{"host":"1.1.1.1","targetstrip":2}', "targetstrip 2"),
    ],
)
def test_bad_keys_are_rejected_with_a_reason_and_the_rest_is_read(key: str, raw: bytes, reason: str) -> None:
    state = current_state([KeyValue(key, raw, 3), kv("/skydns/org/example/ok", host="1.1.1.1")], CFG)
    (rejected,) = state.rejected
    assert rejected.subject == key
    assert reason in rejected.reason
    assert [e.dns_name for e in state.endpoints] == ["ok.example.org"]


def test_strictly_owned_mode_hides_values_of_other_owners() -> None:
    cfg = SyncConfig(owner_id="me", strictly_owned=True)
    state = current_state(
        [
            kv("/skydns/org/example/foo/1", host="1.1.1.1", targetstrip=1, owner="them"),
            kv("/skydns/org/example/bar/1", host="1.1.1.1", targetstrip=1),
            kv("/skydns/org/example/baz/1", host="1.1.1.1", targetstrip=1, owner="me"),
        ],
        cfg,
    )
    assert [e.dns_name for e in state.endpoints] == ["baz.example.org"]
