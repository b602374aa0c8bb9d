"""Spec of records.sync: read etcd, plan, write — including ExternalDNS data adoption and its bugs."""

from __future__ import annotations

import json

from extdns.domainfilter import DomainFilter
from extdns.endpoint import Endpoint
from extdns.plan import Policy
from extdns.provider import SyncConfig, SyncResult, name_keys, sync
from extdns.skydns import target_suffix
from tests.unit.test_memory_store import MemoryStore

CFG = SyncConfig(owner_id="default")
FOO = "service/default/foo"


def value(**fields: object) -> bytes:
    return json.dumps(fields, separators=(",", ":")).encode()


def heritage(owner: str = "default", resource: str = FOO) -> str:
    return f'"heritage=external-dns,external-dns/owner={owner},external-dns/resource={resource}"'


def txt_value(owner: str = "default", resource: str = FOO) -> bytes:
    return value(text=heritage(owner, resource), targetstrip=1)


def a(
    name: str, *targets: str, ttl: int = 0, resource: str = FOO, props: dict[str, str] | None = None
) -> Endpoint:
    return Endpoint(name, "A", targets, ttl, labels={"resource": resource}, provider_specific=props or {})


def run(store: MemoryStore, desired: list[Endpoint], cfg: SyncConfig = CFG, **kwargs: object) -> SyncResult:
    result = sync(store.kvs(), desired, cfg, **kwargs)  # type: ignore[arg-type]
    store.apply(result.ops)
    return result


def converged(store: MemoryStore, desired: list[Endpoint], cfg: SyncConfig = CFG) -> bool:
    return sync(store.kvs(), desired, cfg).ops == ()


# External-DNS-written layout (random suffixes) used by several tests.
EXTERNAL_DNS_FOO = {
    "/skydns/org/example/foo/1a2b3c4d": value(host="1.1.1.1", targetstrip=1),
    "/skydns/org/example/foo/5e6f7a8b": value(host="2.2.2.2", targetstrip=1),
    "/skydns/org/example/a-foo/0badc0de": txt_value(),
}


def test_create_writes_records_and_ownership_txt_in_one_name_ops() -> None:
    store = MemoryStore()
    result = run(store, [a("foo.example.org", "1.1.1.1", "2.2.2.2")])
    (op,) = result.ops
    suffix = target_suffix("A", "1.1.1.1")
    assert op.name == "foo.example.org"
    assert op.puts[f"/skydns/org/example/foo/{suffix}"] == b'{"host":"1.1.1.1","targetstrip":1}'
    assert len(op.puts) == 3
    (txt_key,) = [key for key in op.puts if key.startswith("/skydns/org/example/a-foo/")]
    assert op.puts[txt_key] == txt_value()
    assert op.expected == dict.fromkeys(op.puts, 0)
    assert op.deletes == ()


def test_second_sync_writes_nothing() -> None:
    store = MemoryStore()
    desired = [
        a("foo.example.org", "1.1.1.1", "2.2.2.2", ttl=30),
        Endpoint("bar.example.org", "CNAME", ("x.org",)),
    ]
    run(store, desired)
    assert converged(store, desired)


def test_keys_are_deterministic_across_runs() -> None:
    first, second = MemoryStore(), MemoryStore()
    desired = [a("foo.example.org", "1.1.1.1", "2.2.2.2")]
    run(first, desired)
    run(second, desired)
    assert first.values() == second.values()


def test_update_deletes_exactly_the_stale_keys() -> None:
    store = MemoryStore()
    run(store, [a("foo.example.org", "1.1.1.1", "2.2.2.2")])
    before = store.values()
    (op,) = run(store, [a("foo.example.org", "1.1.1.1", "3.3.3.3")]).ops
    assert op.deletes == (f"/skydns/org/example/foo/{target_suffix('A', '2.2.2.2')}",)
    assert list(op.puts) == [f"/skydns/org/example/foo/{target_suffix('A', '3.3.3.3')}"]
    unchanged = f"/skydns/org/example/foo/{target_suffix('A', '1.1.1.1')}"
    assert store.values()[unchanged] == before[unchanged]


def test_ttl_change_rewrites_each_key_in_place() -> None:
    store = MemoryStore()
    run(store, [a("foo.example.org", "1.1.1.1")])
    (op,) = run(store, [a("foo.example.org", "1.1.1.1", ttl=60)]).ops
    assert op.deletes == ()
    assert list(op.puts.values()) == [b'{"host":"1.1.1.1","ttl":60,"targetstrip":1}']
    assert converged(store, [a("foo.example.org", "1.1.1.1", ttl=60)])


def test_unconfigured_ttl_keeps_the_stored_ttl() -> None:
    store = MemoryStore()
    run(store, [a("foo.example.org", "1.1.1.1", ttl=60)])
    assert converged(store, [a("foo.example.org", "1.1.1.1")])


def test_group_change_triggers_an_update() -> None:
    store = MemoryStore()
    run(store, [a("foo.example.org", "1.1.1.1")])
    desired = [a("foo.example.org", "1.1.1.1", props={"coredns/group": "g1"})]
    (op,) = run(store, desired).ops
    assert list(op.puts.values()) == [b'{"host":"1.1.1.1","targetstrip":1,"group":"g1"}']
    assert converged(store, desired)


def test_delete_removes_records_and_their_ownership_txt() -> None:
    """ExternalDNS PR #6747: every deletion left the ownership TXT behind."""
    store = MemoryStore()
    run(store, [a("foo.example.org", "1.1.1.1", "2.2.2.2")])
    (op,) = run(store, []).ops
    assert len(op.deletes) == 3
    assert store.values() == {}


def test_multi_target_delete_removes_every_key_in_one_pass() -> None:
    """ExternalDNS deleted one key per sync (labels["prefix"] held only the last host's suffix)."""
    store = MemoryStore(EXTERNAL_DNS_FOO)
    run(store, [])
    assert store.values() == {}


def test_delete_never_catches_a_neighbour_sharing_a_byte_prefix() -> None:
    store = MemoryStore()
    run(store, [a("a.example.org", "1.1.1.1"), a("aa.example.org", "2.2.2.2", resource="service/default/aa")])
    (op,) = run(store, [a("aa.example.org", "2.2.2.2", resource="service/default/aa")]).ops
    assert op.name == "a.example.org"
    assert all(key.startswith(("/skydns/org/example/a/", "/skydns/org/example/a-a/")) for key in op.deletes)
    assert converged(store, [a("aa.example.org", "2.2.2.2", resource="service/default/aa")])


def test_adopts_external_dns_random_suffix_keys_without_writes() -> None:
    store = MemoryStore(EXTERNAL_DNS_FOO)
    assert converged(store, [a("foo.example.org", "1.1.1.1", "2.2.2.2")])


def test_update_of_external_dns_data_keeps_the_matching_random_key() -> None:
    store = MemoryStore(EXTERNAL_DNS_FOO)
    (op,) = run(store, [a("foo.example.org", "1.1.1.1", "3.3.3.3")]).ops
    assert op.deletes == ("/skydns/org/example/foo/5e6f7a8b",)
    assert list(op.puts) == [f"/skydns/org/example/foo/{target_suffix('A', '3.3.3.3')}"]
    assert "/skydns/org/example/foo/1a2b3c4d" in store.values()
    assert converged(store, [a("foo.example.org", "1.1.1.1", "3.3.3.3")])


def test_expected_revisions_cover_record_and_ownership_keys() -> None:
    store = MemoryStore(EXTERNAL_DNS_FOO)
    (op,) = sync(store.kvs(), [a("foo.example.org", "1.1.1.1", "3.3.3.3")], CFG).ops
    revisions = {kv.key: kv.mod_revision for kv in store.kvs()}
    for key in EXTERNAL_DNS_FOO:
        assert op.expected[key] == revisions[key]
    new_key = f"/skydns/org/example/foo/{target_suffix('A', '3.3.3.3')}"
    assert op.expected[new_key] == 0


def test_stale_view_cannot_overwrite_a_newer_state() -> None:
    store = MemoryStore(EXTERNAL_DNS_FOO)
    slow = sync(store.kvs(), [a("foo.example.org", "9.9.9.9")], CFG)
    run(store, [a("foo.example.org", "1.1.1.1", "3.3.3.3")])
    try:
        store.apply(slow.ops)
    except Exception as exc:  # the adapter re-reads and retries
        assert "expected revision" in str(exc)
    else:
        raise AssertionError("a stale view was applied")


def test_log_lines_use_external_dns_words() -> None:
    store = MemoryStore(
        {
            "/skydns/org/example/foo/1a2b3c4d": value(host="1.1.1.1", targetstrip=1),
            "/skydns/org/example/a-foo/0badc0de": txt_value(),
        }
    )
    (op,) = sync(store.kvs(), [a("foo.example.org", "2.2.2.2", ttl=30)], CFG).ops
    suffix = target_suffix("A", "2.2.2.2")
    assert op.log_lines == (
        f"Add/set key /skydns/org/example/foo/{suffix} to Host=2.2.2.2, Text=, TTL=30",
        "Delete key /skydns/org/example/foo/1a2b3c4d (exact=true)",
    )


def test_old_format_ownership_is_migrated_to_the_new_format() -> None:
    store = MemoryStore(
        {
            "/skydns/org/example/foo/1a2b3c4d": value(host="1.1.1.1", targetstrip=1),
            "/skydns/org/example/foo/0badc0de": txt_value(),
        }
    )
    (op,) = run(store, [a("foo.example.org", "1.1.1.1")]).ops
    assert op.deletes == ("/skydns/org/example/foo/0badc0de",)
    assert [key.rsplit("/", 1)[0] for key in op.puts] == ["/skydns/org/example/a-foo"]
    assert converged(store, [a("foo.example.org", "1.1.1.1")])


def test_ownership_text_merged_into_a_cname_value_is_split_off() -> None:
    """coredns/coredns #6110: a name host with text is served as TXT, which breaks the CNAME."""
    store = MemoryStore(
        {"/skydns/org/example/foo/1a2b3c4d": value(host="bar.example.org", text=heritage(), targetstrip=1)}
    )
    desired = [Endpoint("foo.example.org", "CNAME", ("bar.example.org",), labels={"resource": FOO})]
    (op,) = run(store, desired).ops
    assert op.puts["/skydns/org/example/foo/1a2b3c4d"] == b'{"host":"bar.example.org","targetstrip":1}'
    assert any(key.startswith("/skydns/org/example/cname-foo/") for key in op.puts)
    assert converged(store, desired)


def test_plain_text_merged_into_a_host_value_keeps_its_own_key() -> None:
    store = MemoryStore(
        {
            "/skydns/org/example/foo/1a2b3c4d": value(host="1.1.1.1", text="v=spf1 -all", targetstrip=1),
            "/skydns/org/example/a-foo/0badc0de": txt_value(),
        }
    )
    run(store, [a("foo.example.org", "1.1.1.1")])
    values = store.values()
    assert values["/skydns/org/example/foo/1a2b3c4d"] == b'{"host":"1.1.1.1","targetstrip":1}'
    assert values[f"/skydns/org/example/foo/{target_suffix('TXT', 'v=spf1 -all')}"] == value(
        text="v=spf1 -all", targetstrip=1
    )
    assert converged(store, [a("foo.example.org", "1.1.1.1")])


def test_duplicate_keys_for_one_host_collapse_to_one() -> None:
    """ExternalDNS #1632: two keys with the same host after an IP change."""
    store = MemoryStore(
        {
            "/skydns/org/example/foo/1a2b3c4d": value(host="1.1.1.1", targetstrip=1),
            "/skydns/org/example/foo/99999999": value(host="1.1.1.1", targetstrip=1),
            "/skydns/org/example/a-foo/0badc0de": txt_value(),
        }
    )
    (op,) = run(store, [a("foo.example.org", "1.1.1.1")]).ops
    assert op.deletes == ("/skydns/org/example/foo/99999999",)
    assert op.puts == {}


def test_rotated_ownership_txt_duplicates_are_cleaned_up() -> None:
    """ExternalDNS wrote the ownership TXT under a new random key on each update and kept the old one."""
    store = MemoryStore({**EXTERNAL_DNS_FOO, "/skydns/org/example/a-foo/12345678": txt_value()})
    run(store, [a("foo.example.org", "1.1.1.1", "2.2.2.2")])
    assert [key for key in store.values() if "/a-foo/" in key] == ["/skydns/org/example/a-foo/0badc0de"]


def test_ipv6_hosts_read_back_as_aaaa_without_churn() -> None:
    """ExternalDNS PR #6489: every IP was read back as A, so AAAA records were rewritten every sync."""
    store = MemoryStore()
    desired = [Endpoint("foo.example.org", "AAAA", ("2001:DB8::1",), labels={"resource": FOO})]
    run(store, desired)
    assert any(v == b'{"host":"2001:db8::1","targetstrip":1}' for v in store.values().values())
    assert converged(store, desired)


def test_foreign_owned_record_is_never_touched() -> None:
    foreign = {
        "/skydns/org/example/foo/1a2b3c4d": value(host="1.1.1.1", targetstrip=1),
        "/skydns/org/example/a-foo/0badc0de": txt_value(owner="other"),
    }
    store = MemoryStore(foreign)
    result = run(store, [a("foo.example.org", "2.2.2.2")])
    assert result.ops == ()
    assert store.values() == foreign
    assert run(store, []).ops == ()


def test_unowned_record_blocks_a_create_and_survives_sync() -> None:
    manual = {"/skydns/org/example/foo": value(host="1.1.1.1")}
    store = MemoryStore(manual)
    result = run(store, [Endpoint("foo.example.org", "CNAME", ("bar.org",))])
    assert result.ops == ()
    assert [blocked.holders for blocked in result.changes.blocked] == [("",)]
    assert store.values() == manual


def test_record_type_conflict_with_foreign_owner_blocks_create() -> None:
    """TestMultiClusterDifferentRecordTypeOwnership: cluster bar wants a CNAME where cat owns an A."""
    store = MemoryStore(
        {
            "/skydns/org/example/foo/1a2b3c4d": value(host="1.1.1.1", targetstrip=1),
            "/skydns/org/example/a-foo/0badc0de": txt_value(owner="cat"),
        }
    )
    result = run(store, [Endpoint("foo.example.org", "CNAME", ("x.org",))], SyncConfig(owner_id="bar"))
    assert result.ops == ()
    assert result.changes.blocked[0].holders == ("cat",)


def test_foreign_orphan_ownership_txt_keeps_the_name_blocked() -> None:
    store = MemoryStore({"/skydns/org/example/a-foo/0badc0de": txt_value(owner="other")})
    assert run(store, [a("foo.example.org", "1.1.1.1")]).ops == ()


def test_our_orphan_ownership_txt_is_removed() -> None:
    store = MemoryStore({"/skydns/org/example/a-foo/0badc0de": txt_value()})
    (op,) = run(store, []).ops
    assert op.deletes == ("/skydns/org/example/a-foo/0badc0de",)


def test_our_orphan_ownership_txt_is_reused_when_the_record_returns() -> None:
    store = MemoryStore({"/skydns/org/example/a-foo/0badc0de": txt_value()})
    (op,) = run(store, [a("foo.example.org", "1.1.1.1")], SyncConfig(policy=Policy.CREATE_ONLY)).ops
    assert "/skydns/org/example/a-foo/0badc0de" not in op.puts
    assert op.deletes == ()


def test_a_and_aaaa_beat_cname_on_the_same_name() -> None:
    store = MemoryStore()
    run(store, [Endpoint("foo.example.org", "CNAME", ("lb.example.net",), labels={"resource": FOO})])
    desired = [
        Endpoint("foo.example.org", "CNAME", ("lb.example.net",), labels={"resource": FOO}),
        a("foo.example.org", "1.1.1.1"),
    ]
    run(store, desired)
    keys = sorted(store.values())
    assert not any("cname" in key or b"lb.example.net" in store.values()[key] for key in keys)
    assert converged(store, desired)


def test_ptr_is_written_at_the_exact_reverse_key() -> None:
    store = MemoryStore()
    cfg = SyncConfig(managed_record_types=frozenset({"A", "PTR"}))
    desired = [Endpoint("2.0.26.172.in-addr.arpa", "PTR", ("foo.example.org",))]
    run(store, desired, cfg)
    assert store.values()["/skydns/arpa/in-addr/172/26/0/2"] == b'{"host":"foo.example.org"}'
    assert "/skydns/arpa/in-addr/172/26/0/ptr-2" in store.values()
    assert converged(store, desired, cfg)


def test_external_dns_suffixed_ptr_moves_to_the_exact_key() -> None:
    cfg = SyncConfig(managed_record_types=frozenset({"PTR"}))
    store = MemoryStore(
        {
            "/skydns/arpa/in-addr/172/26/0/2/1a2b3c4d": value(host="foo.example.org", targetstrip=1),
            "/skydns/arpa/in-addr/172/26/0/ptr-2": value(text=heritage()),
        }
    )
    desired = [Endpoint("2.0.26.172.in-addr.arpa", "PTR", ("foo.example.org",), labels={"resource": FOO})]
    run(store, desired, cfg)
    assert "/skydns/arpa/in-addr/172/26/0/2/1a2b3c4d" not in store.values()
    assert converged(store, desired, cfg)


def test_txt_prefix_names_the_ownership_record() -> None:
    cfg = SyncConfig(txt_prefix="txt.")
    store = MemoryStore()
    run(store, [a("foo.example.org", "1.1.1.1")], cfg)
    assert any(key.startswith("/skydns/org/example/a-foo/txt/") for key in store.values())
    assert converged(store, [a("foo.example.org", "1.1.1.1")], cfg)


def test_wildcard_record_uses_the_replacement_in_its_ownership_name() -> None:
    cfg = SyncConfig(txt_wildcard_replacement="wild")
    store = MemoryStore()
    desired = [a("*.example.org", "1.1.1.1")]
    run(store, desired, cfg)
    assert any(key.startswith("/skydns/org/example/a-wild/") for key in store.values())
    assert converged(store, desired, cfg)


def test_upsert_only_never_deletes() -> None:
    store = MemoryStore(EXTERNAL_DNS_FOO)
    cfg = SyncConfig(policy=Policy.UPSERT_ONLY)
    assert run(store, [], cfg).ops == ()
    run(store, [a("foo.example.org", "3.3.3.3")], cfg)
    assert converged(store, [a("foo.example.org", "3.3.3.3")], cfg)


def test_create_only_never_updates() -> None:
    store = MemoryStore(EXTERNAL_DNS_FOO)
    cfg = SyncConfig(policy=Policy.CREATE_ONLY)
    assert run(store, [a("foo.example.org", "3.3.3.3")], cfg).ops == ()
    (op,) = run(store, [a("foo.example.org", "3.3.3.3"), a("new.example.org", "4.4.4.4")], cfg).ops
    assert op.name == "new.example.org"


def test_domain_filter_keeps_out_of_scope_names_untouched() -> None:
    cfg = SyncConfig(domain_filter=DomainFilter(domains=("example.com",)))
    store = MemoryStore(EXTERNAL_DNS_FOO)
    assert run(store, [a("bar.example.org", "1.1.1.1")], cfg).ops == ()
    assert store.values() == EXTERNAL_DNS_FOO


def test_names_restrict_planning_to_the_given_names() -> None:
    store = MemoryStore(EXTERNAL_DNS_FOO)
    result = run(store, [a("bar.example.org", "3.3.3.3")], names=frozenset({"bar.example.org"}))
    assert [op.name for op in result.ops] == ["bar.example.org"]
    assert set(EXTERNAL_DNS_FOO) <= set(store.values())


def test_name_keys_cover_records_and_every_ownership_name() -> None:
    keys = name_keys(["foo.example.org"], CFG)
    assert keys == (
        "/skydns/org/example/a-foo",
        "/skydns/org/example/aaaa-foo",
        "/skydns/org/example/cname-foo",
        "/skydns/org/example/foo",
    )


def test_resource_change_rewrites_only_the_ownership_txt() -> None:
    store = MemoryStore(EXTERNAL_DNS_FOO)
    desired = [a("foo.example.org", "1.1.1.1", "2.2.2.2", resource="service/default/other")]
    (op,) = run(store, desired).ops
    assert list(op.puts.values()) == [txt_value(resource="service/default/other")]
    assert op.deletes == ()
    assert converged(store, desired)


def test_strictly_owned_mode_writes_the_owner_field_and_hides_other_owners() -> None:
    cfg = SyncConfig(owner_id="me", strictly_owned=True)
    theirs = {"/skydns/org/example/foo/1a2b3c4d": value(host="9.9.9.9", targetstrip=1, owner="them")}
    store = MemoryStore(theirs)
    desired = [a("foo.example.org", "1.1.1.1")]
    run(store, desired, cfg)
    mine = {k: v for k, v in store.values().items() if k not in theirs}
    assert all(json.loads(v)["owner"] == "me" for v in mine.values())
    assert store.values()["/skydns/org/example/foo/1a2b3c4d"] == theirs["/skydns/org/example/foo/1a2b3c4d"]
    assert converged(store, desired, cfg)


def test_owner_field_of_another_instance_protects_a_value() -> None:
    store = MemoryStore(
        {
            "/skydns/org/example/foo/1a2b3c4d": value(host="1.1.1.1", targetstrip=1, owner="them"),
            "/skydns/org/example/a-foo/0badc0de": txt_value(),
        }
    )
    assert run(store, []).ops == ()


def test_bad_keys_are_reported_and_the_rest_proceeds() -> None:
    store = MemoryStore(
        {
            "/skydns/org/example/junk/1": b"{not json",
            "/skydns/org/example/ttl/1": b'{"host":"1.1.1.1","ttl":"60"}',
            "/skydns/org/Example/upper": value(host="1.1.1.1"),
        }
    )
    result = run(store, [a("foo.example.org", "1.1.1.1")])
    assert sorted(r.subject for r in result.rejected) == [
        "/skydns/org/Example/upper",
        "/skydns/org/example/junk/1",
        "/skydns/org/example/ttl/1",
    ]
    assert [op.name for op in result.ops] == ["foo.example.org"]


def test_bad_desired_endpoints_are_reported_and_the_rest_proceeds() -> None:
    store = MemoryStore()
    desired = [a("bad_label-" + "x" * 60 + ".example.org", "1.1.1.1"), a("foo.example.org", "1.1.1.1")]
    result = run(store, desired)
    assert len(result.rejected) == 1
    assert "longer than 63" in result.rejected[0].reason
    assert [op.name for op in result.ops] == ["foo.example.org"]
