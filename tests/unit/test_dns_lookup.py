"""Lookup rules of the CoreDNS etcd plugin, one table row per rule of reference/coredns-etcd.md §2-3."""

from __future__ import annotations

import json

import pytest
from dnslib import QTYPE, RDMAP, RR, DNSBuffer

from dnsserver import lookup as L
from dnsserver.index import Index, Ready

Z = "skydns.test."
DATA: dict[str, object] = {
    "/skydns/test/skydns/region1/prod/server1/a": {"host": "10.0.0.1", "port": 8080},
    "/skydns/test/skydns/region1/prod/server1/b": {"host": "10.0.0.2", "port": 8080},
    "/skydns/test/skydns/region1/dev/server2/a": {"host": "10.0.1.1", "port": 80, "ttl": 60},
    "/skydns/test/skydns/v6/a": {"host": "::1"},
    "/skydns/test/skydns/v6/b": {"host": "0::1"},
    "/skydns/test/skydns/mapped/a": {"host": "::ffff:10.9.9.9"},
    "/skydns/test/skydns/cname/a": {"host": "a.server1.prod.region1.skydns.test"},
    "/skydns/test/skydns/ext/a": {"host": "www.example.com"},
    "/skydns/test/skydns/miss/a": {"host": "nothere.skydns.test"},
    "/skydns/test/skydns/loop1/a": {"host": "loop2.skydns.test"},
    "/skydns/test/skydns/loop2/a": {"host": "loop1.skydns.test"},
    "/skydns/test/skydns/self/x/a": {"host": "self.skydns.test"},
    "/skydns/test/skydns/txt/a": {"text": "one"},
    "/skydns/test/skydns/txt/b": {"text": "one"},
    "/skydns/test/skydns/txt/c": {"text": "x" * 255},
    "/skydns/test/skydns/iptxt/a": {"host": "10.0.0.7", "text": "hidden"},
    "/skydns/test/skydns/nametxt/a": {"host": "target.example.com", "text": "registry"},
    "/skydns/test/skydns/mx/a": {"host": "mail.example.com", "mail": True, "priority": 20},
    "/skydns/test/skydns/mx/b": {"host": "10.0.0.25", "mail": True, "targetstrip": 1},
    "/skydns/test/skydns/mx/c": {"host": "10.0.0.26"},
    "/skydns/test/skydns/srv3/a": {"host": "10.0.2.1", "port": 1},
    "/skydns/test/skydns/srv3/b": {"host": "10.0.2.2", "port": 2},
    "/skydns/test/skydns/srv3/c": {"host": "10.0.2.3", "port": -1},
    "/skydns/test/skydns/dns/ns/ns1": {"host": "10.0.0.53"},
    "/skydns/test/skydns/exact": {"host": "exact.example.com"},
    "/skydns/test/skydns/grp/a": {"host": "10.1.0.1", "group": "g1"},
    "/skydns/test/skydns/grp/deep/b": {"host": "10.1.0.2", "group": "g2"},
    "/skydns/test/skydns/grp/deep/c": {"host": "10.1.0.3"},
    "/skydns/test/skydns/leaf": {"host": "10.2.2.2"},
    "/skydns/test/skydns/leaf/child": {"host": "10.2.2.3"},
    "/skydns/test/skydns/bad/good": {"host": "10.3.3.3"},
    "/skydns/test/skydns/onlybad/x": "not json",
    "/skydns/arpa/in-addr/10/0/0/1": {"host": "reverse.example.com"},
}


def index(data: dict[str, object]) -> Index:
    items = [(k, (v if isinstance(v, str) else json.dumps(v)).encode()) for k, v in data.items()]
    idx, _ = Index.build(items)
    return idx


IDX = index(DATA)


def as_rr(r: L.Record, owner: str) -> RR:
    """A record kept ready in the index (owned by the question) as the dnslib RR it stands for."""
    if not isinstance(r, Ready):
        return r
    rdata = RDMAP[QTYPE[r.rtype]].parse(DNSBuffer(r.rdata), len(r.rdata))
    return RR(owner, r.rtype, 1, r.ttl, rdata)


def ask(name: str, qtype: str, zone: str = Z, idx: Index = IDX) -> L.Result:
    z = L.Zone(zone, "/skydns", idx)
    res = L.answer(z, name, getattr(QTYPE, qtype), 1234)
    res.answer = [as_rr(r, name) for r in res.answer]
    return res


def texts(rrs: list) -> list[str]:  # type: ignore[type-arg]
    return [f"{r.rname} {r.ttl} {QTYPE[r.rtype]} {r.rdata}" for r in rrs]


CASES = [
    # §3.2 subtree answers: every A below the name, at any depth
    (
        "server1.prod.region1.skydns.test.",
        "A",
        0,
        [
            "server1.prod.region1.skydns.test. 300 A 10.0.0.1",
            "server1.prod.region1.skydns.test. 300 A 10.0.0.2",
        ],
    ),
    (
        "region1.skydns.test.",
        "A",
        0,
        [
            "region1.skydns.test. 60 A 10.0.1.1",
            "region1.skydns.test. 300 A 10.0.0.1",
            "region1.skydns.test. 300 A 10.0.0.2",
        ],
    ),  # etcd key byte order
    # §2.3 A/AAAA dedup by raw string: ::1 and 0::1 both appear; IPv4-mapped is an A
    ("v6.skydns.test.", "AAAA", 0, ["v6.skydns.test. 300 AAAA ::1", "v6.skydns.test. 300 AAAA ::1"]),
    ("mapped.skydns.test.", "A", 0, ["mapped.skydns.test. 300 A 10.9.9.9"]),
    # §3.7 NODATA vs NXDOMAIN
    ("a.server1.prod.region1.skydns.test.", "AAAA", 0, []),
    ("nope.skydns.test.", "A", 3, []),
    ("server1.prod.region1.skydns.test.", "HINFO", 0, []),
    ("nope.skydns.test.", "HINFO", 3, []),
    ("txt.skydns.test.", "A", 0, []),
    # §3.2 CNAME and PTR read the exact key only
    ("server1.prod.region1.skydns.test.", "CNAME", 3, []),
    ("exact.skydns.test.", "CNAME", 0, ["exact.skydns.test. 300 CNAME exact.example.com."]),
    ("1.0.0.10.in-addr.arpa.", "PTR", 0, ["1.0.0.10.in-addr.arpa. 300 PTR reverse.example.com."]),
    # §3.5 CNAME chasing inside the zone, missing target dropped, loops dropped, self/subtree skipped
    (
        "cname.skydns.test.",
        "A",
        0,
        [
            "cname.skydns.test. 300 CNAME a.server1.prod.region1.skydns.test.",
            "a.server1.prod.region1.skydns.test. 300 A 10.0.0.1",
        ],
    ),
    ("miss.skydns.test.", "A", 0, []),
    ("loop1.skydns.test.", "A", 0, []),
    ("self.skydns.test.", "A", 0, []),
    # out of zone without an upstream: the CNAME is dropped (no reply at all)
    ("ext.skydns.test.", "A", 0, []),
    # §3.6 TXT: dedup by text, split at 255 with a trailing empty string; IP host text invisible
    (
        "txt.skydns.test.",
        "TXT",
        0,
        ['txt.skydns.test. 300 TXT "one"', 'txt.skydns.test. 300 TXT "' + "x" * 255 + '",""'],
    ),
    ("iptxt.skydns.test.", "TXT", 0, []),
    ("nametxt.skydns.test.", "TXT", 0, ['nametxt.skydns.test. 300 TXT "registry"']),
    ("nametxt.skydns.test.", "A", 0, []),  # the TXT-registry trap: name+text is not a CNAME
    # §2.5 MX: mail only, priority 0 -> 10, IP host exchange from the key with targetstrip
    (
        "mx.skydns.test.",
        "MX",
        0,
        ["mx.skydns.test. 300 MX 20 mail.example.com.", "mx.skydns.test. 300 MX 10 mx.skydns.test."],
    ),
    # §2.6 NS and SOA at the apex
    ("skydns.test.", "NS", 0, ["skydns.test. 300 NS ns1.ns.dns.skydns.test."]),
    (
        "anything.below.skydns.test.",
        "SOA",
        0,
        ["skydns.test. 30 SOA ns.dns.skydns.test. hostmaster.skydns.test. 1234 7200 1800 86400 30"],
    ),
    # §3.3 wildcards: `*` and `any` match a label at any depth below
    (
        "prod.*.skydns.test.",
        "A",
        0,
        ["prod.*.skydns.test. 300 A 10.0.0.1", "prod.*.skydns.test. 300 A 10.0.0.2"],
    ),
    (
        "prod.any.skydns.test.",
        "A",
        0,
        ["prod.any.skydns.test. 300 A 10.0.0.1", "prod.any.skydns.test. 300 A 10.0.0.2"],
    ),
    ("nomatch.*.skydns.test.", "A", 0, []),
    # §1.3 the prefix read hides the value at the key itself when children exist
    ("leaf.skydns.test.", "A", 0, ["leaf.skydns.test. 300 A 10.2.2.3"]),
    # §3.4 group: the shallower g1 wins, deeper g2 dropped, ungrouped kept
    ("grp.skydns.test.", "A", 0, ["grp.skydns.test. 300 A 10.1.0.1", "grp.skydns.test. 300 A 10.1.0.3"]),
    # deliberate difference: an undecodable value is skipped (CoreDNS: SERVFAIL), the key still exists
    ("onlybad.skydns.test.", "A", 0, []),
    # §3.11 case: owners echo the query
    ("a.SERVer1.pROD.region1.skydns.tEst.", "A", 0, ["a.SERVer1.pROD.region1.skydns.tEst. 300 A 10.0.0.1"]),
]


@pytest.mark.parametrize(("name", "qtype", "rcode", "want"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_lookup_rule(name: str, qtype: str, rcode: int, want: list[str]) -> None:
    r = ask(name, qtype)
    assert r.rcode == rcode
    assert texts(r.answer) == want
    if not want:
        assert texts(r.authority) and "SOA" in texts(r.authority)[0]


def test_srv_weights_targets_glue_and_port_minus_one() -> None:
    r = ask("srv3.skydns.test.", "SRV")
    # three services at priority 10 (port -1 counted in the sum) -> 33 each; port -1 skipped
    assert texts(r.answer) == [
        "srv3.skydns.test. 300 SRV 10 33 1 a.srv3.skydns.test.",
        "srv3.skydns.test. 300 SRV 10 33 2 b.srv3.skydns.test.",
    ]
    assert texts(r.additional) == ["a.srv3.skydns.test. 300 A 10.0.2.1", "b.srv3.skydns.test. 300 A 10.0.2.2"]


def test_mx_glue_owner_is_unstripped_key_name() -> None:
    r = ask("mx.skydns.test.", "MX")
    assert "b.mx.skydns.test. 300 A 10.0.0.25" in texts(r.additional)


def test_ns_with_name_host_is_servfail() -> None:
    idx = index({"/skydns/test/skydns/dns/ns/ns1": {"host": "ns.example.com"}})
    assert ask("skydns.test.", "NS", idx=idx).rcode == 2


def test_ns_without_entries_is_nxdomain_at_apex() -> None:
    idx = index({"/skydns/test/skydns/www/a": {"host": "10.0.0.1"}})
    assert ask("skydns.test.", "NS", idx=idx).rcode == 3


def test_apex_reads_apex_dns_first_then_whole_zone() -> None:
    with_apex = index(
        {
            "/skydns/test/skydns/dns/apex/a": {"host": "10.9.0.1"},
            "/skydns/test/skydns/www/a": {"host": "10.9.0.2"},
        }
    )
    assert texts(ask("skydns.test.", "A", idx=with_apex).answer) == ["skydns.test. 300 A 10.9.0.1"]
    without = index({"/skydns/test/skydns/www/a": {"host": "10.9.0.2"}})
    assert texts(ask("skydns.test.", "A", idx=without).answer) == ["skydns.test. 300 A 10.9.0.2"]
    assert ask("skydns.test.", "A", idx=index({})).rcode == 3  # empty zone: NXDOMAIN even at the apex
    assert ask("skydns.test.", "SOA", idx=index({})).rcode == 0


def test_cname_chain_limit_is_eleven() -> None:
    data = {f"/skydns/test/skydns/c{i}/x": {"host": f"c{i + 1}.skydns.test"} for i in range(15)}
    data["/skydns/test/skydns/c15/x"] = {"host": "10.0.0.1"}
    r = ask("c0.skydns.test.", "A", idx=index(data))
    assert r.answer == []  # the chain is cut after 11 CNAMEs and the tail is missing -> dropped
    data = {f"/skydns/test/skydns/c{i}/x": {"host": f"c{i + 1}.skydns.test"} for i in range(5)}
    data["/skydns/test/skydns/c5/x"] = {"host": "10.0.0.1"}
    assert len(ask("c0.skydns.test.", "A", idx=index(data)).answer) == 6


def test_out_of_zone_cname_uses_the_upstream_reentry() -> None:
    from dnslib import RR, A

    def upstream(name: str, qtype: int) -> tuple[list[RR], bool]:
        return [RR(name, QTYPE.A, 1, 60, A("192.0.2.1"))], True

    z = L.Zone(Z, "/skydns", IDX, upstream=upstream)
    r = L.answer(z, "ext.skydns.test.", QTYPE.A, 1)
    assert texts(r.answer) == [
        "ext.skydns.test. 300 CNAME www.example.com.",
        "www.example.com. 60 A 192.0.2.1",
    ]
    assert r.truncated


def test_fallthrough_only_on_name_error() -> None:
    z = L.Zone(Z, "/skydns", IDX, fallthrough=())
    assert L.answer(z, "nope.skydns.test.", QTYPE.A, 1).fallthrough
    assert not L.answer(z, "txt.skydns.test.", QTYPE.A, 1).fallthrough  # NODATA does not fall through


def test_deps_record_the_paths_read() -> None:
    z = L.Zone(Z, "/skydns", IDX)
    L.answer(z, "cname.skydns.test.", QTYPE.A, 1)
    assert z.deps == {"/skydns/test/skydns/cname", "/skydns/test/skydns/region1/prod/server1/a"}


def test_group_rules() -> None:
    def e(key: str, group: str) -> object:
        return index({key: {"host": "10.0.0.1", "group": group}}).exact(key)[1]

    same_level = [e("/s/a/x", "g1"), e("/s/a/y", "g2")]
    assert L.group(same_level) == same_level  # disagreement at the reference depth: grouping abandoned
    assert L.group([e("/s/a/x", ""), e("/s/a/y/z", "g1")]) == [e("/s/a/x", ""), e("/s/a/y/z", "g1")]
