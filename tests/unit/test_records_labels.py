"""Spec of endpoint labels in the ownership TXT: every label written as ExternalDNS does, and read back."""

from __future__ import annotations

from extdns.endpoint import Endpoint
from extdns.key_layout import ownership_text
from extdns.registry import format_labels, parse_labels
from tests.unit.test_memory_store import MemoryStore
from tests.unit.test_records_sync import heritage, run, txt_value, value

E = "crd/ns/e"
TEAM_X = (
    '"heritage=external-dns,external-dns/owner=default,external-dns/resource=crd/ns/e,external-dns/team=x"'
)


def lb(*targets: str, **labels: str) -> Endpoint:
    return Endpoint("lb.example.org", "A", targets, labels={"resource": E, **labels})


def ownership_values(store: MemoryStore) -> list[bytes]:
    return [v for key, v in sorted(store.values().items()) if key.startswith("/skydns/org/example/a-lb/")]


def test_ownership_text_holds_every_label_sorted() -> None:
    assert ownership_text("default", {"team": "x", "resource": E}) == TEAM_X
    assert ownership_text("o", {"owner": "someone-else"}) == '"heritage=external-dns,external-dns/owner=o"'


def test_the_encryption_nonce_is_never_written_in_plain_text() -> None:
    assert format_labels({"owner": "o", "txt-encryption-nonce": "n"}) == (
        '"heritage=external-dns,external-dns/owner=o"'
    )


def test_create_writes_every_label_and_a_second_sync_writes_nothing() -> None:
    store = MemoryStore()
    run(store, [lb("192.0.2.9", team="x")])
    assert ownership_values(store) == [value(text=TEAM_X, targetstrip=1)]
    assert run(store, [lb("192.0.2.9", team="x")]).ops == ()


def test_a_label_change_alone_writes_nothing_as_in_external_dns() -> None:
    """ExternalDNS updates a record (and so its TXT) only for targets, a configured TTL or properties."""
    store = MemoryStore()
    run(store, [lb("192.0.2.9", team="x")])
    assert run(store, [lb("192.0.2.9", team="y")]).ops == ()
    assert run(store, [lb("192.0.2.9")]).ops == ()
    assert ownership_values(store) == [value(text=TEAM_X, targetstrip=1)]


def test_an_update_writes_the_new_labels() -> None:
    store = MemoryStore()
    run(store, [lb("192.0.2.9", team="x")])
    run(store, [lb("192.0.2.10", team="y")])
    assert ownership_values(store) == [value(text=TEAM_X.replace("team=x", "team=y"), targetstrip=1)]
    assert run(store, [lb("192.0.2.10", team="y")]).ops == ()


def test_labels_written_by_external_dns_are_adopted_without_a_rewrite() -> None:
    store = MemoryStore(
        {
            "/skydns/org/example/lb/1a2b3c4d": value(host="192.0.2.9", targetstrip=1),
            "/skydns/org/example/a-lb/0badc0de": value(text=TEAM_X, targetstrip=1),
        }
    )
    assert run(store, [lb("192.0.2.9", team="x")]).ops == ()


def test_services_keep_owner_and_resource_only() -> None:
    store = MemoryStore()
    svc = Endpoint("lb.example.org", "A", ("192.0.2.9",), labels={"resource": "service/default/foo"})
    run(store, [svc])
    assert ownership_values(store) == [txt_value()]
    assert parse_labels(heritage()) == {"owner": "default", "resource": "service/default/foo"}
    assert run(store, [svc]).ops == ()


def test_a_label_the_ownership_text_cannot_hold_is_dropped_with_a_reason() -> None:
    """A ',' (or '=' in a key) would read back as other labels; the rest are written, and it converges."""
    store = MemoryStore()
    desired = [lb("192.0.2.9", team="x", note="a,b", **{"k=v": "1"})]
    result = run(store, desired)
    assert ownership_values(store) == [value(text=TEAM_X, targetstrip=1)]
    reasons = sorted(r.reason for r in result.rejected)
    assert len(reasons) == 2
    assert "label 'k=v'" in reasons[0]
    assert "label 'note'" in reasons[1]
    assert run(store, desired).ops == ()
