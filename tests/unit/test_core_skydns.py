"""Spec of the SkyDNS schema: name <-> key and msg.Service JSON as CoreDNS reads it."""

from __future__ import annotations

import pytest

from extdns.skydns import (
    DecodeError,
    Service,
    decode_service,
    encode_service,
    host_type,
    key_to_name,
    name_to_key,
    normalize_prefix,
    target_suffix,
)


@pytest.mark.parametrize(
    ("name", "prefix", "key"),
    [
        ("service.staging.skydns.local.", "/skydns", "/skydns/local/skydns/staging/service"),
        ("Foo.Example.org", "skydns", "/skydns/org/example/foo"),
        ("foo.example.org", "/skydns/", "/skydns/org/example/foo"),
        ("2.0.26.172.in-addr.arpa", "/skydns", "/skydns/arpa/in-addr/172/26/0/2"),
        ("foo.example.org", "/skydns/ka2", "/skydns/ka2/org/example/foo"),
    ],
)
def test_name_to_key(name: str, prefix: str, key: str) -> None:
    assert name_to_key(name, prefix) == key


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("/skydns/org/example/foo", "foo.example.org"),
        ("/skydns/org/example/foo/", "foo.example.org"),
        ("/skydns", None),
        ("/skydnsx/org", None),
        ("/other/org", None),
    ],
)
def test_key_to_name(key: str, name: str | None) -> None:
    assert key_to_name(key) == name


def test_empty_prefix_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        normalize_prefix("/")


def test_target_suffix_is_stable_across_runs() -> None:
    assert target_suffix("A", "1.2.3.4") == "34179f23"
    assert target_suffix("AAAA", "1.2.3.4") != target_suffix("A", "1.2.3.4")


@pytest.mark.parametrize(
    ("service", "encoded"),
    [
        (Service(host="1.2.3.4", targetstrip=1), b'{"host":"1.2.3.4","targetstrip":1}'),
        (
            Service(text='"a&b<c>"', targetstrip=1),
            b'{"text":"\\"a\\u0026b\\u003cc\\u003e\\"","targetstrip":1}',
        ),
        (
            Service(
                host="x.org",
                port=80,
                priority=1,
                weight=2,
                text="t",
                mail=True,
                ttl=30,
                targetstrip=1,
                group="g",
                owner="o",
            ),
            b'{"host":"x.org","port":80,"priority":1,"weight":2,"text":"t","mail":true,"ttl":30,'
            b'"targetstrip":1,"group":"g","owner":"o"}',
        ),
        (Service(), b"{}"),
    ],
)
def test_encode_follows_go_field_order_and_omits_empty_fields(service: Service, encoded: bytes) -> None:
    assert encode_service(service) == encoded
    assert decode_service(encoded) == service


@pytest.mark.parametrize(
    ("raw", "service"),
    [
        (b'{"Host":"1.2.3.4","TTL":60}', Service(host="1.2.3.4", ttl=60)),
        (b'{"host":"a","host":"b"}', Service(host="b")),
        (b'{"host":"a","unknown":[1,2],"ttl":null}', Service(host="a")),
        (b'  {"text":"x"}  ', Service(text="x")),
    ],
)
def test_decode_follows_go_rules(raw: bytes, service: Service) -> None:
    assert decode_service(raw) == service


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "invalid JSON"),
        (b"", "invalid JSON"),
        (b'["host"]', "JSON array, not an object"),
        (b'"x"', "JSON string, not an object"),
        (b'{"ttl":"60"}', "field 'ttl': expected an integer"),
        (b'{"port":1.5}', "field 'port': expected an integer"),
        (b'{"ttl":-1}', "out of range"),
        (b'{"ttl":4294967296}', "out of range"),
        (b'{"host":1}', "field 'host': expected a string"),
        (b'{"mail":"yes"}', "field 'mail': expected a boolean"),
        (b'{"ttl":NaN}', "NaN is not valid JSON"),
        (b'{"ttl":true}', "expected an integer"),
    ],
)
def test_decode_returns_an_error_value_instead_of_raising(raw: bytes, reason: str) -> None:
    result = decode_service(raw)
    assert isinstance(result, DecodeError)
    assert reason in result.reason


@pytest.mark.parametrize(
    ("service", "kind"),
    [
        (Service(host="10.0.0.1"), "A"),
        (Service(host="::ffff:10.0.0.1"), "A"),
        (Service(host="2001:db8::1"), "AAAA"),
        (Service(host="127.0.0.254", text="x"), "A"),
        (Service(host="example.org"), "CNAME"),
        (Service(host="example.org", text="x"), "TXT"),
        (Service(text="x"), "TXT"),
    ],
)
def test_host_type_classifies_like_coredns(service: Service, kind: str) -> None:
    assert host_type(service) == kind
