"""The sources' memo: an object at the same resourceVersion is not run again, and only when that is safe."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from extdns.sources import Cluster, SourceConfig
from extdns.sources.collect import CollectMemo, collect
from tests.unit.test_source_service import HOST, headless, pod, service, slice_, slice_endpoint

CFG = SourceConfig()


def versioned(obj: dict[str, Any], uid: str, version: int) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["metadata"].update(uid=uid, resourceVersion=str(version))
    return out


def lb(name: str, ip: str, version: int) -> dict[str, Any]:
    status = {"loadBalancer": {"ingress": [{"ip": ip}]}}
    svc = service(annotations={"external-dns.kubernetes.io/hostname": f"{name}.example.org"}, name=name, status=status)
    return versioned(svc, f"uid-{name}", version)


def test_an_object_at_the_same_version_is_not_run_again() -> None:
    memo = CollectMemo()
    cluster = Cluster(services=(lb("a", "192.0.2.1", 1), lb("b", "192.0.2.2", 1)))
    first = collect(cluster, CFG, ("service",), memo)
    assert memo.hits == 0
    again = collect(cluster, CFG, ("service",), memo)
    assert memo.hits == 2 and again == first


def test_a_new_resource_version_is_run_again() -> None:
    memo = CollectMemo()
    collect(Cluster(services=(lb("a", "192.0.2.1", 1),)), CFG, ("service",), memo)
    found = collect(Cluster(services=(lb("a", "192.0.2.9", 2),)), CFG, ("service",), memo)
    assert memo.hits == 0
    assert [e.targets for e in found.endpoints] == [("192.0.2.9",)]


def test_a_headless_service_follows_its_pods_though_the_service_did_not_change() -> None:
    memo = CollectMemo()
    svc = versioned(headless(), "uid-web", 7)

    def cluster(*ips: str) -> Cluster:
        endpoints = [slice_endpoint(f"p{i}", ip) for i, ip in enumerate(ips)]
        pods = tuple(pod(f"p{i}", host_ip=f"192.168.0.{i}") for i in range(len(ips)))
        return Cluster(services=(svc,), endpoint_slices=(slice_(*endpoints),), pods=pods)

    collect(cluster("10.1.0.1"), CFG, ("service",), memo)
    found = collect(cluster("10.1.0.1", "10.1.0.2"), CFG, ("service",), memo)
    assert [e.targets for e in found.endpoints if e.dns_name == "web.example.org"] == [("10.1.0.1", "10.1.0.2")]


def test_a_memo_made_under_other_flags_is_not_used() -> None:
    memo = CollectMemo()
    cluster = Cluster(services=(lb("a", "192.0.2.1", 1),))
    collect(cluster, CFG, ("service",), memo)
    found = collect(cluster, SourceConfig(namespace="elsewhere"), ("service",), memo)
    assert memo.hits == 0 and found.endpoints == []


def test_objects_without_uid_or_version_are_always_run() -> None:
    memo = CollectMemo()
    cluster = Cluster(services=(service(annotations=HOST),))
    collect(cluster, CFG, ("service",), memo)
    collect(cluster, CFG, ("service",), memo)
    assert memo.hits == 0 and memo.last == {}


@pytest.mark.parametrize("seed", range(6))
def test_with_or_without_the_memo_every_pass_collects_the_same(seed: int) -> None:
    rng = random.Random(seed)
    memo = CollectMemo()
    objects = {f"s{i}": lb(f"s{i}", f"192.0.2.{i}", 1) for i in range(30)}
    version = 1
    for _ in range(8):
        for _ in range(rng.randrange(0, 6)):  # a few changes per pass: new IPs, deletions, new objects
            name = f"s{rng.randrange(40)}"
            version += 1
            if rng.random() < 0.2:
                objects.pop(name, None)
            else:
                objects[name] = lb(name, f"198.51.100.{rng.randrange(1, 250)}", version)
        cluster = Cluster(services=tuple(objects.values()))
        assert collect(cluster, CFG, ("service",), memo) == collect(cluster, CFG, ("service",))
        assert len(memo.last) == len(objects), "one pass's objects, no more"
