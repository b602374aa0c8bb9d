"""Merging across objects, running all sources over a Cluster, bad objects and flag validation."""

from __future__ import annotations

from typing import Any

import pytest

from extdns.endpoint import Endpoint
from extdns.sources import (
    Cluster,
    ObjectRef,
    Rejection,
    SourceConfig,
    endpoints_for,
    endpoints_for_object,
    merge_endpoints,
)

A = "external-dns.kubernetes.io/"


def ep(
    name: str, rtype: str, targets: tuple[str, ...], resource: str, ttl: int = 0, set_id: str = ""
) -> Endpoint:
    return Endpoint(name, rtype, targets, ttl, set_id, {"resource": resource})


def lb_service(
    name: str, host: str, ip: str = "", hostname: str = "", ns: str = "ns", **annotations: str
) -> dict[str, Any]:
    entry = {"ip": ip} if ip else {"hostname": hostname}
    return {
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": ns,
            "annotations": {A + "hostname": host, **{A + k: v for k, v in annotations.items()}},
        },
        "spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.1"},
        "status": {"loadBalancer": {"ingress": [entry]}},
    }


def an_ingress(name: str, host: str, ip: str) -> dict[str, Any]:
    return {
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"rules": [{"host": host}]},
        "status": {"loadBalancer": {"ingress": [{"ip": ip}]}},
    }


# --- merge_endpoints --------------------------------------------------------------------------------------


def test_a_targets_unioned_first_resource_kept() -> None:
    merged = merge_endpoints(
        [
            ep("x.org", "A", ("2.2.2.2",), "service/ns/b", ttl=60),
            ep("x.org", "A", ("1.1.1.1", "2.2.2.2"), "service/ns/a", ttl=30),
            ep("x.org", "AAAA", ("::1",), "service/ns/c"),
        ],
        across_ttls=True,
    )
    assert [(e.record_type, e.targets, e.resource, e.ttl) for e in merged] == [
        ("A", ("1.1.1.1", "2.2.2.2"), "service/ns/a", 30),
        ("AAAA", ("::1",), "service/ns/c", 0),
    ]


def test_cnames_not_merged_but_exact_repeats_dropped() -> None:
    merged = merge_endpoints(
        [
            ep("x.org", "CNAME", ("b.net",), "service/ns/b"),
            ep("x.org", "CNAME", ("a.net",), "service/ns/a"),
            ep("x.org", "CNAME", ("a.net",), "service/ns/c"),
        ]
    )
    assert [(e.targets, e.resource) for e in merged] == [
        (("a.net",), "service/ns/a"),
        (("b.net",), "service/ns/b"),
    ]


def test_set_identifiers_kept_apart() -> None:
    merged = merge_endpoints(
        [
            ep("x.org", "A", ("1.1.1.1",), "service/ns/a", set_id="eu"),
            ep("x.org", "A", ("2.2.2.2",), "service/ns/b", set_id="us"),
        ]
    )
    assert len(merged) == 2


@pytest.mark.parametrize("kind", ["ingress", "crd", "httproute"])
def test_other_sources_merge_only_equal_ttls(kind: str) -> None:
    """ExternalDNS's MergeEndpoints keys on the TTL too: the planner picks among what stays apart."""
    merged = merge_endpoints(
        [
            ep("x.org", "A", ("2.2.2.2",), f"{kind}/ns/e1", ttl=60),
            ep("x.org", "A", ("1.1.1.1",), f"{kind}/ns/e2", ttl=120),
            ep("x.org", "A", ("4.4.4.4",), f"{kind}/ns/e4", ttl=120),
            ep("x.org", "A", ("3.3.3.3",), f"{kind}/ns/e3", ttl=60),
        ]
    )
    assert sorted((e.targets, e.resource, e.ttl) for e in merged) == [
        (("1.1.1.1", "4.4.4.4"), f"{kind}/ns/e2", 120),
        (("2.2.2.2", "3.3.3.3"), f"{kind}/ns/e1", 60),
    ]


def test_same_targets_with_other_ttls_keep_the_first_object() -> None:
    """Kept apart by the merge, then dropped as a repeat (ExternalDNS's dedup ignores the TTL)."""
    merged = merge_endpoints(
        [
            ep("x.org", "A", ("1.1.1.1",), "crd/ns/b", ttl=60),
            ep("x.org", "A", ("1.1.1.1",), "crd/ns/a", ttl=120),
        ]
    )
    assert [(e.resource, e.ttl) for e in merged] == [("crd/ns/a", 120)]


def test_service_source_merges_across_ttls_first_service_kept() -> None:
    """The service source unites same-name endpoints before MergeEndpoints, whatever their TTLs."""
    merged = merge_endpoints(
        [
            ep("x.org", "A", ("2.2.2.2",), "service/ns/b", ttl=120),
            ep("x.org", "A", ("1.1.1.1",), "service/ns/a", ttl=60),
            ep("x.org", "CNAME", ("b.net",), "service/ns/b", ttl=60),
            ep("x.org", "CNAME", ("b.net",), "service/ns/c", ttl=120),
        ],
        across_ttls=True,
    )
    assert [(e.record_type, e.targets, e.resource, e.ttl) for e in merged] == [
        ("A", ("1.1.1.1", "2.2.2.2"), "service/ns/a", 60),
        ("CNAME", ("b.net",), "service/ns/b", 60),
    ]


# --- endpoints_for over a Cluster -------------------------------------------------------------------------


def test_two_services_same_name() -> None:
    cluster = Cluster(
        services=(
            lb_service("zeta", "app.example.org", ip="2.2.2.2"),
            lb_service("alpha", "app.example.org", ip="1.1.1.1"),
            lb_service("c1", "cname.example.org", hostname="one.lb.net"),
            lb_service("c2", "cname.example.org", hostname="two.lb.net"),
        )
    )
    endpoints, rejections = endpoints_for(cluster, SourceConfig())
    assert rejections == []
    found = sorted((e.dns_name, e.record_type, e.targets, e.resource) for e in endpoints)
    assert found == [
        ("app.example.org", "A", ("1.1.1.1", "2.2.2.2"), "service/ns/alpha"),
        ("cname.example.org", "CNAME", ("one.lb.net",), "service/ns/c1"),
        ("cname.example.org", "CNAME", ("two.lb.net",), "service/ns/c2"),
    ]


def test_two_ingresses_same_host_merged() -> None:
    cluster = Cluster(
        ingresses=(
            an_ingress("b", "www.example.org", "10.0.0.2"),
            an_ingress("a", "www.example.org", "10.0.0.1"),
        )
    )
    endpoints, _ = endpoints_for(cluster, SourceConfig())
    assert [(e.targets, e.resource) for e in endpoints] == [(("10.0.0.1", "10.0.0.2"), "ingress/ns/a")]


def test_two_ingresses_with_other_ttls_stay_apart() -> None:
    first = an_ingress("b", "www.example.org", "10.0.0.2")
    first["metadata"]["annotations"] = {A + "ttl": "60"}
    second = an_ingress("a", "www.example.org", "10.0.0.1")
    second["metadata"]["annotations"] = {A + "ttl": "120"}
    endpoints, _ = endpoints_for(Cluster(ingresses=(first, second)), SourceConfig())
    assert sorted((e.targets, e.resource, e.ttl) for e in endpoints) == [
        (("10.0.0.1",), "ingress/ns/a", 120),
        (("10.0.0.2",), "ingress/ns/b", 60),
    ]


def test_two_services_with_other_ttls_merged() -> None:
    cluster = Cluster(
        services=(
            lb_service("zeta", "app.example.org", ip="2.2.2.2", ttl="60"),
            lb_service("alpha", "app.example.org", ip="1.1.1.1", ttl="120"),
        )
    )
    endpoints, _ = endpoints_for(cluster, SourceConfig())
    assert [(e.targets, e.resource, e.ttl) for e in endpoints] == [
        (("1.1.1.1", "2.2.2.2"), "service/ns/alpha", 120)
    ]


def test_sources_merged_separately_and_selectable() -> None:
    cluster = Cluster(
        services=(lb_service("svc", "www.example.org", ip="1.1.1.1"),),
        ingresses=(an_ingress("ing", "www.example.org", "2.2.2.2"),),
    )
    both, _ = endpoints_for(cluster, SourceConfig())
    assert sorted((e.targets, e.resource) for e in both) == [
        (("1.1.1.1",), "service/ns/svc"),
        (("2.2.2.2",), "ingress/ns/ing"),
    ]
    only_ingress, _ = endpoints_for(cluster, SourceConfig(), sources=("ingress",))
    assert [e.resource for e in only_ingress] == ["ingress/ns/ing"]
    with pytest.raises(ValueError, match="unknown source 'pod'"):
        endpoints_for(cluster, SourceConfig(), sources=("pod",))


def test_identical_records_from_two_sources_deduplicated() -> None:
    cluster = Cluster(
        services=(lb_service("svc", "www.example.org", ip="1.1.1.1"),),
        ingresses=(an_ingress("ing", "www.example.org", "1.1.1.1"),),
    )
    endpoints, _ = endpoints_for(cluster, SourceConfig())
    assert [e.resource for e in endpoints] == ["service/ns/svc"]


def test_endpoints_for_object_is_unmerged_and_case_insensitive_on_kind() -> None:
    svc = lb_service("svc", "www.example.org", ip="1.1.1.1")
    cluster = Cluster(services=(svc, lb_service("other", "www.example.org", ip="2.2.2.2")))
    for kind in ("Service", "service"):
        result = endpoints_for_object(kind, svc, cluster, SourceConfig())
        assert [(e.dns_name, e.targets) for e in result.endpoints] == [("www.example.org", ("1.1.1.1",))]
    with pytest.raises(ValueError, match="unknown source kind"):
        endpoints_for_object("Pod", svc, cluster, SourceConfig())


def test_cluster_from_objects_and_find() -> None:
    svc = lb_service("svc", "www.example.org", ip="1.1.1.1")
    cluster = Cluster.from_objects(
        [svc, {"kind": "ConfigMap", "metadata": {"name": "x"}}, {"kind": "Node", "metadata": {"name": "n"}}]
    )
    assert cluster.services == (svc,)
    assert len(cluster.nodes) == 1
    assert cluster.find("service", "ns", "svc") is svc
    assert cluster.find("Service", "ns", "nope") is None
    with pytest.raises(ValueError, match="unknown kind"):
        cluster.objects("ConfigMap")


# --- bad objects: only that object's endpoint affected ----------------------------------------------------

GOOD = lb_service("good", "good.example.org", ip="1.1.1.1")


@pytest.mark.parametrize(
    ("bad", "cfg", "reason", "bad_names"),
    [
        (lb_service("bad", "bad..example.org", ip="2.2.2.2"), SourceConfig(), "invalid hostname", set()),
        (lb_service("bad", "x" * 64 + ".example.org", ip="2.2.2.2"), SourceConfig(), "longer than 63", set()),
        (
            lb_service("bad", "ok.example.org,b@d.example.org", ip="2.2.2.2"),
            SourceConfig(),
            "invalid hostname",
            {"ok.example.org"},
        ),
        (
            lb_service("bad", "bad.example.org", ip="2.2.2.2", ttl="forever"),
            SourceConfig(),
            "ttl='forever' ignored",
            {"bad.example.org"},
        ),
        (
            lb_service("bad", "bad.example.org", hostname="not a host!"),
            SourceConfig(),
            "invalid target",
            set(),
        ),
    ],
    ids=["empty-label", "label-over-63", "one-of-two-bad", "garbage-ttl", "bad-target"],
)
def test_bad_object_rejected_alone(
    bad: dict[str, Any], cfg: SourceConfig, reason: str, bad_names: set[str]
) -> None:
    endpoints, rejections = endpoints_for(Cluster(services=(GOOD, bad)), cfg)
    assert {e.dns_name for e in endpoints} == {"good.example.org"} | bad_names
    (rejection,) = rejections
    assert (rejection.kind, rejection.namespace, rejection.name, rejection.subject) == (
        "Service",
        "ns",
        "bad",
        "service/ns/bad",
    )
    assert reason in rejection.reason
    assert str(rejection).startswith("service/ns/bad: ")


def test_garbage_ttl_keeps_record_without_ttl() -> None:
    endpoints, _ = endpoints_for(
        Cluster(services=(lb_service("bad", "bad.example.org", ip="2.2.2.2", ttl="x"),)), SourceConfig()
    )
    assert [e.ttl for e in endpoints] == [0]


def test_garbage_ttl_without_hostnames_is_not_reported() -> None:
    svc = lb_service("quiet", "", ip="2.2.2.2", ttl="x")
    assert endpoints_for(Cluster(services=(svc,)), SourceConfig()) == ([], [])


def test_broken_template_field_rejects_each_object_only() -> None:
    cfg = SourceConfig(fqdn_templates=("{{.Labels.team}}.example.org",))
    with_label = lb_service("a", "", ip="1.1.1.1")
    with_label["metadata"]["labels"] = {"team": "blue"}
    without = lb_service("b", "", ip="2.2.2.2")
    endpoints, rejections = endpoints_for(Cluster(services=(with_label, without)), cfg)
    assert [e.dns_name for e in endpoints] == ["blue.example.org"]
    assert [r.subject for r in rejections] == ["service/ns/b"]
    assert "map has no entry for key 'team'" in rejections[0].reason


def test_unknown_template_field_is_a_rejection_per_object() -> None:
    cfg = SourceConfig(fqdn_templates=("{{.Calibre}}.example.org",))
    _, rejections = endpoints_for(
        Cluster(services=(lb_service("a", "", ip="1.1.1.1"),), ingresses=(an_ingress("i", "", "1.1.1.1"),)),
        cfg,
    )
    assert [r.subject for r in rejections] == ["service/ns/a", "ingress/ns/i"]
    assert all("can't evaluate field Calibre" in r.reason for r in rejections)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda o: o.update(spec=["not", "a", "map"]),
        lambda o: o.update(status={"loadBalancer": {"ingress": "x"}}),
        lambda o: o["metadata"].update(annotations={A + "hostname": 5}),
        lambda o: o["metadata"].update(labels=None),
        lambda o: o.update(spec={"type": "NodePort", "ports": [{"nodePort": "x"}, 7]}),
        lambda o: o.update(spec={"type": "ClusterIP", "clusterIP": "None", "selector": {"a": 1}}),
    ],
)
def test_malformed_objects_never_raise(mangle: Any) -> None:
    bad = lb_service("bad", "bad.example.org", ip="2.2.2.2")
    mangle(bad)
    endpoints, _ = endpoints_for(Cluster(services=(GOOD, bad)), SourceConfig())
    assert "good.example.org" in {e.dns_name for e in endpoints}


def test_object_without_name() -> None:
    result = endpoints_for_object(
        "Service", {"kind": "Service", "metadata": {"namespace": "ns"}}, Cluster(), SourceConfig()
    )
    assert result.endpoints == []
    assert [r.reason for r in result.rejections] == ["object has no metadata.name"]


def test_rejection_value() -> None:
    rejection = Rejection(ObjectRef("Ingress", "prod", "web", "uid-1"), "bad")
    assert (rejection.subject, rejection.ref.uid, str(rejection)) == (
        "ingress/prod/web",
        "uid-1",
        "ingress/prod/web: bad",
    )


# --- SourceConfig validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"service_type_filter": ("LoadBalancer", "Headless")},
            "--service-type-filter: unknown type 'Headless'",
        ),
        ({"ignore_hostname_annotation": True}, "--ignore-hostname-annotation requires --fqdn-template"),
        ({"label_filter": "a in ("}, "--label-filter: invalid selector"),
        ({"annotation_filter": "=x"}, "--annotation-filter: invalid selector"),
        ({"annotation_prefix": "example.com"}, "--annotation-prefix 'example.com' must end with '/'"),
        ({"min_ttl": -1}, "--min-ttl"),
        ({"fqdn_templates": ("{{.Name",)}, "--fqdn-template: template"),
        ({"fqdn_templates": ("{{ bogus }}",)}, "function 'bogus' not defined"),
    ],
)
def test_config_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        SourceConfig(**kwargs)


def test_config_cleans_lists() -> None:
    cfg = SourceConfig(
        service_type_filter=("NodePort", " "),
        ingress_class=(" nginx ",),
        fqdn_templates=("", "{{.Name}}.org"),
    )
    assert (cfg.service_type_filter, cfg.ingress_class, cfg.fqdn_templates) == (
        ("NodePort",),
        ("nginx",),
        ("{{.Name}}.org",),
    )
    assert cfg.fqdn_template is not None
    assert SourceConfig().fqdn_template is None
    assert SourceConfig() == SourceConfig()


def test_the_service_source_merges_across_ttls_and_the_ingress_source_does_not() -> None:
    """What collect asks of the merge, per source: the difference lives in which source it is."""
    slow, fast = {"ttl": "120"}, {"ttl": "60"}
    services = [
        lb_service("a", "x.example.org", "10.0.0.1", **slow),
        lb_service("b", "x.example.org", "10.0.0.2", **fast),
    ]
    ingresses = [an_ingress("a", "y.example.org", "10.0.1.1"), an_ingress("b", "y.example.org", "10.0.1.2")]
    ingresses[1]["metadata"]["annotations"] = {A + "ttl": "60"}
    found, _ = endpoints_for(Cluster(services=tuple(services), ingresses=tuple(ingresses)), SourceConfig())
    by_name = {(e.dns_name, e.targets) for e in found if e.record_type == "A"}
    assert ("x.example.org", ("10.0.0.1", "10.0.0.2")) in by_name
    assert {t for n, t in by_name if n == "y.example.org"} == {("10.0.1.1",), ("10.0.1.2",)}
