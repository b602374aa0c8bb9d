"""Spec of the planner: rows per name, policies, owner filtering, conflict resolution, change detection."""

from __future__ import annotations

import pytest

from extdns.domainfilter import DomainFilter
from extdns.endpoint import Endpoint
from extdns.plan import Changes, Policy, calculate, candidate_order

ME = "me"


def ep(
    name: str,
    rtype: str,
    *targets: str,
    owner: str | None = None,
    resource: str = "",
    ttl: int = 0,
    props: dict[str, str] | None = None,
) -> Endpoint:
    labels = {"resource": resource} if resource else {}
    if owner is not None:
        labels["owner"] = owner
    return Endpoint(name, rtype, targets, ttl, labels=labels, provider_specific=props or {})


def plan(current: list[Endpoint], desired: list[Endpoint], **kwargs: object) -> Changes:
    return calculate(current, desired, owner_id=ME, **kwargs)  # type: ignore[arg-type]


def names(endpoints: tuple[Endpoint, ...]) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(e.dns_name, e.record_type, e.targets) for e in endpoints]


def test_create_sets_our_owner_label() -> None:
    changes = plan([], [ep("a.org", "A", "1.1.1.1", resource="service/x/y")])
    assert [dict(e.labels) for e in changes.create] == [{"owner": ME, "resource": "service/x/y"}]


def test_nothing_to_do_when_current_matches() -> None:
    assert not plan([ep("a.org", "A", "1.1.1.1", owner=ME)], [ep("a.org", "A", "1.1.1.1")]).has_changes


@pytest.mark.parametrize(
    ("current", "desired", "update"),
    [
        (ep("a.org", "A", "1.1.1.1", owner=ME), ep("a.org", "A", "2.2.2.2"), True),
        (ep("a.org", "A", "1.1.1.1", owner=ME, ttl=30), ep("a.org", "A", "1.1.1.1"), False),
        (ep("a.org", "A", "1.1.1.1", owner=ME, ttl=30), ep("a.org", "A", "1.1.1.1", ttl=60), True),
        (ep("a.org", "AAAA", "2001:db8::1", owner=ME), ep("a.org", "AAAA", "2001:DB8:0::1"), False),
        (ep("a.org", "CNAME", "x.org", owner=ME), ep("a.org", "CNAME", "X.org."), False),
        (
            ep("a.org", "A", "1.1.1.1", owner=ME),
            ep("a.org", "A", "1.1.1.1", props={"coredns/group": "g"}),
            True,
        ),
        (
            ep("a.org", "A", "1.1.1.1", owner=ME, props={"coredns/group": "g"}),
            ep("a.org", "A", "1.1.1.1"),
            True,
        ),
        (
            ep("a.org", "A", "1.1.1.1", owner=ME, resource="s/a/b"),
            ep("a.org", "A", "1.1.1.1", resource="s/a/c"),
            True,
        ),
        (
            ep("a.org", "A", "1.1.1.1", owner=ME, props={"txt/force-update": "true"}),
            ep("a.org", "A", "1.1.1.1"),
            True,
        ),
    ],
)
def test_change_detection(current: Endpoint, desired: Endpoint, update: bool) -> None:
    changes = plan([current], [desired])
    assert bool(changes.update_new) is update
    if update:
        assert changes.update_old == (current,)
        assert changes.update_new[0].owner == ME


@pytest.mark.parametrize(
    ("policy", "creates", "updates", "deletes"),
    [(Policy.SYNC, 1, 1, 1), (Policy.UPSERT_ONLY, 1, 1, 0), (Policy.CREATE_ONLY, 1, 0, 0)],
)
def test_policies(policy: Policy, creates: int, updates: int, deletes: int) -> None:
    current = [ep("upd.org", "A", "1.1.1.1", owner=ME), ep("del.org", "A", "1.1.1.1", owner=ME)]
    desired = [ep("upd.org", "A", "2.2.2.2"), ep("new.org", "A", "3.3.3.3")]
    changes = plan(current, desired, policy=policy)
    assert (len(changes.create), len(changes.update_new), len(changes.delete)) == (creates, updates, deletes)


@pytest.mark.parametrize("owner", ["other", None])
def test_foreign_and_unowned_records_are_never_updated_or_deleted(owner: str | None) -> None:
    current = [ep("a.org", "A", "1.1.1.1", owner=owner), ep("b.org", "A", "1.1.1.1", owner=owner)]
    changes = plan(current, [ep("a.org", "A", "2.2.2.2")])
    assert not changes.has_changes


@pytest.mark.parametrize(("owner", "holders"), [("other", ("other",)), (None, ("",))])
def test_no_create_on_a_name_someone_else_holds(owner: str | None, holders: tuple[str, ...]) -> None:
    changes = plan([ep("a.org", "A", "1.1.1.1", owner=owner)], [ep("a.org", "AAAA", "2001:db8::1")])
    assert not changes.has_changes
    assert [b.holders for b in changes.blocked] == [holders]


def test_orphan_ownership_of_ours_is_refilled_by_a_create() -> None:
    changes = plan([ep("a.org", "A", owner=ME)], [ep("a.org", "A", "1.1.1.1")], policy=Policy.CREATE_ONLY)
    assert names(changes.create) == [("a.org", "A", ("1.1.1.1",))]


def test_a_and_aaaa_beat_cname() -> None:
    current = [ep("a.org", "CNAME", "lb.org", owner=ME)]
    desired = [
        ep("a.org", "CNAME", "lb.org"),
        ep("a.org", "A", "1.1.1.1"),
        ep("a.org", "AAAA", "2001:db8::1"),
    ]
    changes = plan(current, desired)
    assert names(changes.delete) == [("a.org", "CNAME", ("lb.org",))]
    assert [e.record_type for e in changes.create] == ["A", "AAAA"]


def test_conflicting_creates_pick_the_minimal_candidate() -> None:
    desired = [
        ep("a.org", "CNAME", "z.org", resource="s/a/1"),
        ep("a.org", "CNAME", "b.org", resource="s/a/2"),
    ]
    assert names(plan([], desired).create) == [("a.org", "CNAME", ("b.org",))]


def test_current_resource_keeps_the_name() -> None:
    current = [ep("a.org", "CNAME", "z.org", owner=ME, resource="s/a/1")]
    desired = [
        ep("a.org", "CNAME", "b.org", resource="s/a/2"),
        ep("a.org", "CNAME", "z.org", resource="s/a/1"),
    ]
    assert not plan(current, desired).has_changes


def test_candidates_kept_apart_by_their_ttls_resolve_by_targets() -> None:
    """Two objects' A records for one name with other TTLs: the smaller targets win, TTL and all."""
    desired = [
        ep("app.org", "A", "203.0.113.2", resource="httproute/a/r1", ttl=60),
        ep("app.org", "A", "203.0.113.1", resource="httproute/a/r2", ttl=120),
    ]
    (created,) = plan([], desired).create
    assert (created.targets, created.ttl, created.resource) == (("203.0.113.1",), 120, "httproute/a/r2")
    current = [ep("app.org", "A", "203.0.113.2", owner=ME, resource="httproute/a/r1", ttl=60)]
    assert not plan(current, desired).has_changes
    current = [ep("app.org", "A", "203.0.113.9", owner=ME, resource="httproute/a/r3", ttl=60)]
    (updated,) = plan(current, desired).update_new
    assert (updated.targets, updated.ttl, updated.resource) == (("203.0.113.1",), 120, "httproute/a/r2")


def test_labels_other_than_resource_do_not_cause_an_update() -> None:
    """As ExternalDNS: only targets, a configured TTL and properties (and, here, the resource) count."""
    current = ep("a.org", "A", "1.1.1.1", owner=ME, resource="crd/a/e").with_labels(team="x")
    desired = ep("a.org", "A", "1.1.1.1", resource="crd/a/e").with_labels(team="y")
    assert not plan([current], [desired]).has_changes
    moved = ep("a.org", "A", "2.2.2.2", resource="crd/a/e").with_labels(team="y")
    (updated,) = plan([current], [moved]).update_new
    assert dict(updated.labels) == {"owner": ME, "resource": "crd/a/e", "team": "y"}


def test_candidate_order_is_numeric_for_ips_and_puts_ips_before_names() -> None:
    ordered = sorted(
        [
            ep("a", "A", "127.0.0.1"),
            ep("a", "A", "8.8.8.8"),
            ep("a", "CNAME", "a.org"),
            ep("a", "A", "1.1.1.1", "2.2.2.2"),
        ],
        key=candidate_order,
    )
    assert [e.targets for e in ordered] == [("8.8.8.8",), ("127.0.0.1",), ("a.org",), ("1.1.1.1", "2.2.2.2")]


def test_unmanaged_types_and_filtered_domains_are_ignored() -> None:
    current = [ep("a.org", "TXT", "x", owner=ME), ep("b.com", "A", "1.1.1.1", owner=ME)]
    changes = plan(current, [ep("c.com", "A", "1.1.1.1")], domain_filter=DomainFilter(("org",)))
    assert not changes.has_changes
