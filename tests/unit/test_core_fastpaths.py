"""Spec of the fast paths: each one gives exactly what the general path gives, on any input."""

from __future__ import annotations

import ipaddress
import json
import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from extdns import names, skydns, stored
from extdns.addresses import address_type, canonical_address, is_canonical_ipv4, parse_ip
from extdns.domainfilter import MATCH_ALL, DomainFilter
from extdns.endpoint import EMPTY_MAP, Endpoint, StrMap
from extdns.names import InvalidName
from extdns.registry import TYPED_RECORD_TYPES, TxtMapper, _dots_then_end
from extdns.stored import KeyValue, current_state
from extdns.syncconfig import SyncConfig

# Text that is often almost a name or an address: the shapes the fast paths must not misjudge.
NAMEISH = st.text(alphabet="aZz09-_.*é /:%\t", max_size=70)
LABELS = st.from_regex(r"[a-z0-9_-]{1,64}", fullmatch=True)
DOTTED = st.lists(LABELS, min_size=1, max_size=6).map(".".join)
NAMES = st.one_of(NAMEISH, DOTTED, DOTTED.map(lambda name: "*." + name), DOTTED.map(str.upper))
OCTETS = st.one_of(st.integers(0, 300).map(str), st.sampled_from(["00", "01", "007", "1e1", "+1", "٣"]))
IPISH = st.one_of(
    st.lists(OCTETS, min_size=3, max_size=5).map(".".join),
    st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n))),
    st.integers(0, 2**128 - 1).map(lambda n: str(ipaddress.IPv6Address(n))),
    NAMEISH,
)


def _parsed_type(text: str) -> str | None:
    """address_type by parsing alone (the general path)."""
    ip = parse_ip(text)
    if ip is None:
        return None
    return "AAAA" if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None else "A"


@given(IPISH)
@example("1.2.3.04")
@example("1.2.3.4\n")
@example("255.255.255.255")
def test_canonical_ipv4_shortcut_agrees_with_parsing(text: str) -> None:
    if is_canonical_ipv4(text):
        parsed = parse_ip(text)
        assert isinstance(parsed, ipaddress.IPv4Address) and str(parsed) == text
    assert address_type(text) == _parsed_type(text)


@given(st.integers(0, 2**32 - 1))
def test_every_printed_ipv4_takes_the_shortcut(number: int) -> None:
    text = str(ipaddress.IPv4Address(number))
    assert is_canonical_ipv4(text) and canonical_address(text) == text


def _outcome(fn: object, text: str) -> object:
    try:
        return fn(text)  # type: ignore[operator]
    except InvalidName as exc:
        return ("InvalidName", str(exc))


@given(NAMES)
@example("a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 61)
@example("a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 62)
@example("*")
@example("a.*.b")
def test_canonical_name_shortcuts_agree_with_label_checks(text: str) -> None:
    assert _outcome(names.normalize_name, text) == _outcome(names._normalize_name, text)
    assert names.name_problem(text) == names._name_problem(text)


def test_decoder_built_once_reports_a_bom_as_json_loads_does() -> None:
    raw = b'\xef\xbb\xbf{"host":"1.2.3.4"}'
    with pytest.raises(ValueError) as info:
        json.loads(raw.decode())
    assert skydns.decode_service(raw) == skydns.DecodeError(f"invalid JSON: {info.value}")


def test_current_state_decodes_each_distinct_value_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []

    def counting(raw: bytes) -> skydns.Service | skydns.DecodeError:
        calls.append(raw)
        return skydns.decode_service(raw)

    value = b'{"host":"10.0.0.1","targetstrip":1}'
    kvs = [KeyValue(f"/skydns/org/example/h{i}/0001", value, i + 1) for i in range(50)]
    kvs.append(KeyValue("/skydns/org/example/bad/0001", b"{", 99))
    plain = current_state(kvs, SyncConfig())
    monkeypatch.setattr(stored, "decode_service", counting)
    assert current_state(kvs, SyncConfig()) == plain
    assert sorted(calls) == sorted({value, b"{"})
    assert len(plain.endpoints) == 50 and len(plain.rejected) == 1


@given(NAMEISH)
def test_dot_positions_then_end(text: str) -> None:
    assert list(_dots_then_end(text)) == [m.start() for m in re.finditer(r"\.", text)] + [len(text)]


MAPPERS = st.one_of(
    st.just(TxtMapper()),
    st.builds(TxtMapper, prefix=st.sampled_from(["", "txt.", "%{record_type}-x.", "Pre-"])),
    st.builds(TxtMapper, suffix=st.sampled_from(["-txt", "-%{record_type}", ".s"])),
    st.builds(TxtMapper, wildcard_replacement=st.sampled_from(["any", "wild"])),
)


@given(MAPPERS, st.sampled_from([*TYPED_RECORD_TYPES, "", "SPF", "a"]))
def test_precomputed_txt_affixes_are_the_computed_ones(mapper: TxtMapper, record_type: str) -> None:
    assert mapper._affixes(record_type) == mapper._compute_affixes(record_type)


@given(MAPPERS, DOTTED, st.sampled_from(TYPED_RECORD_TYPES))
def test_owners_of_finds_the_name_an_ownership_txt_was_named_for(
    mapper: TxtMapper, name: str, record_type: str
) -> None:
    txt_name = mapper.txt_name(name, record_type)
    owners = mapper.owners_of(txt_name)
    assert all(mapper.txt_name(owner, kind) == txt_name for owner, kind in owners)


@given(NAMES)
def test_match_all_shortcut(name: str) -> None:
    assert MATCH_ALL.matches_all and MATCH_ALL.matches(name)


@pytest.mark.parametrize(
    "flags",
    [
        {"domain_filter": ["example.org"]},
        {"exclude_domains": ["example.org"]},
        {"regex_domain_filter": "x"},
        {"regex_domain_exclusion": "x"},
    ],
)
def test_any_filter_turns_the_match_all_shortcut_off(flags: dict[str, object]) -> None:
    assert not DomainFilter.from_flags(**flags).matches_all  # type: ignore[arg-type]


def test_strmap_lookups_and_endpoint_reuse_of_strmaps() -> None:
    labels = StrMap({"owner": "a"})
    assert labels.get("owner") == "a" and labels.get("x") is None and labels.get("x", "d") == "d"
    assert "owner" in labels and "x" not in labels
    endpoint = Endpoint("a.org", "A", ("1.2.3.4",), labels=labels)
    assert endpoint.labels is labels and endpoint.provider_specific is EMPTY_MAP
    assert Endpoint("a.org", "A", (), labels={"owner": "a"}).labels == labels
