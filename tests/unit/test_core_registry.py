"""Spec of the TXT registry codec: ownership text and ownership TXT names, new and old format."""

from __future__ import annotations

import pytest

from extdns.registry import TxtMapper, format_labels, parse_labels


@pytest.mark.parametrize(
    ("mapper", "name", "record_type", "txt_name"),
    [
        (TxtMapper(), "foo.example.com", "A", "a-foo.example.com"),
        (TxtMapper(), "foo.example.com", "AAAA", "aaaa-foo.example.com"),
        (TxtMapper(), "foo.example.com", "CNAME", "cname-foo.example.com"),
        (TxtMapper(), "foo.example.com", "TXT", "txt-foo.example.com"),
        (TxtMapper(), "2.49.168.192.in-addr.arpa", "PTR", "ptr-2.49.168.192.in-addr.arpa"),
        (TxtMapper(), "foo.example.com", "", "foo.example.com"),
        (
            TxtMapper(prefix="txt."),
            "new-record-1.test-zone.example.org",
            "CNAME",
            "txt.cname-new-record-1.test-zone.example.org",
        ),
        (TxtMapper(prefix="%{record_type}-abc-."), "ex.com", "CNAME", "cname-abc-.ex.com"),
        (TxtMapper(suffix="-%{record_type}"), "foo.example.com", "A", "foo-a.example.com"),
        (TxtMapper(suffix="-.%{record_type}"), "www.ex.com", "CNAME", "www-.cname.ex.com"),
        (
            TxtMapper(prefix="TXT-", wildcard_replacement="wild"),
            "*.example.com",
            "A",
            "txt-a-wild.example.com",
        ),
        (TxtMapper(suffix="-own"), "example", "A", "a-example-own"),
    ],
)
def test_txt_names_round_trip(mapper: TxtMapper, name: str, record_type: str, txt_name: str) -> None:
    assert mapper.txt_name(name, record_type) == txt_name
    assert (name, record_type) in mapper.owners_of(txt_name)


@pytest.mark.parametrize(
    ("mapper", "txt_name", "owners"),
    [
        (TxtMapper(), "aaaa-foo.x", (("foo.x", "AAAA"),)),
        (TxtMapper(), "foo.x", (("foo.x", ""),)),
        (TxtMapper(prefix="txt."), "foo.x", ()),
        (TxtMapper(prefix="txt."), "txt.foo.x", (("foo.x", ""),)),
        (TxtMapper(wildcard_replacement="wild"), "a-wild.x", (("wild.x", "A"), ("*.x", "A"))),
    ],
)
def test_owners_of_reads_new_format_first_then_old(
    mapper: TxtMapper, txt_name: str, owners: tuple[tuple[str, str], ...]
) -> None:
    assert mapper.owners_of(txt_name) == owners


def test_prefix_and_suffix_are_mutually_exclusive() -> None:
    with pytest.raises(ValueError, match="mutually exclusive"):
        TxtMapper(prefix="a", suffix="b")


def test_format_labels_quotes_and_sorts() -> None:
    text = format_labels({"resource": "ingress/default/my-ingress", "owner": "default"})
    assert (
        text == '"heritage=external-dns,external-dns/owner=default,'
        'external-dns/resource=ingress/default/my-ingress"'
    )
    assert parse_labels(text) == {"owner": "default", "resource": "ingress/default/my-ingress"}


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        (
            "heritage=external-dns,,external-dns/owner=bar-owner,external-dns/resource=svc/a/b,"
            "external-dns/new-key=v,random=stuff,no-equal-sign,,",
            {"owner": "bar-owner", "resource": "svc/a/b", "new-key": "v"},
        ),
        ('"heritage=external-dns"', {}),
        ("heritage=mate,heritage=external-dns,external-dns/owner=x", None),
        ("heritage=external-dns,heritage=mate,external-dns/owner=x", {"owner": "x"}),
        ("external-dns/owner=x", None),
        ("v=spf1 -all", None),
        ("", None),
    ],
)
def test_parse_labels_rejects_foreign_text(text: str, labels: dict[str, str] | None) -> None:
    assert parse_labels(text) == labels
