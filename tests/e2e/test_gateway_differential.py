"""Gateway API routes and DNSEndpoint, differential against the real ExternalDNS v0.22.0.

Every scenario of tests/e2e/gateway_scenarios.py gets its own namespaces and its own domain
`<scenario>.<run>-<tag>.gwdiff.example.org`. The objects of all scenarios are created once (status written
through the status subresource), then each run (one set of sources and flags) is one `--once` of each
controller over all its scenarios, with the same owner id, each into its own fresh etcd prefix. Each
scenario then compares its slice of both prefixes as DNS-visible values: name, type, data, TTL (0 or none
served as 300) and CoreDNS group, the ownership TXT records included; key suffixes are ignored. A
scenario that ExternalDNS must publish something for asserts it did, so a broken harness cannot pass.
Differences are asserted as such (docs/compatibility.md, "Gateway API routes and DNSEndpoint").
"""

from __future__ import annotations

import ipaddress
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from adapters.kube_api import Kube
from bench.peers_procs import etcd_records, extdns_once, external_dns_once
from tests.e2e.crds import ensure_crds
from tests.e2e.gateway_scenarios import KINDS, RUNS, SCENARIOS, Ctx, Obj, Scenario

TAG = uuid.uuid4().hex[:5]
OWNER = f"gwdiff-{TAG}"


def base_domain(run: str) -> str:
    return f"{run}-{TAG}.gwdiff.example.org"


def ctx(scenario: Scenario) -> Ctx:
    return Ctx(TAG, scenario.id, base_domain(scenario.run))


# ---------------------------------------------------------------- CRDs and objects


def create(kube: client.ApiClient, obj: Obj) -> None:
    """Create obj; then write its `status` through the status subresource."""
    if obj["kind"] == "Namespace":
        meta = obj["metadata"]
        namespace = client.V1Namespace(metadata=client.V1ObjectMeta(name=meta["name"], labels=meta["labels"]))
        client.CoreV1Api(kube).create_namespace(namespace)
        return
    group, version, plural = KINDS[obj["kind"]]
    api = client.CustomObjectsApi(kube)
    ns = obj["metadata"]["namespace"]
    status = obj.get("status")
    body = {k: v for k, v in obj.items() if k != "status"}
    deadline = time.monotonic() + 20
    while True:  # a freshly established CRD can take a moment to be served
        try:
            created = cast(
                dict[str, Any], api.create_namespaced_custom_object(group, version, ns, plural, body)
            )
            break
        except ApiException as e:
            if e.status != 404 or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    if status is not None:
        created["status"] = status
        name = obj["metadata"]["name"]
        api.replace_namespaced_custom_object_status(group, version, ns, plural, name, created)


# ---------------------------------------------------------------- what a prefix holds, as DNS sees it


def visible(records: dict[str, dict[str, Any]], prefix: str) -> list[tuple[str, str]]:
    """(name, `name ttl TYPE data [group=g]`) per value and kind of data; key suffixes stripped."""
    out = []
    root = prefix.rstrip("/") + "/"
    for key, value in records.items():
        labels = key[len(root) :].split("/")[::-1]
        name = ".".join(labels[int(value.get("targetstrip", 0)) :])
        ttl = int(value.get("ttl") or 300)
        extra = f" group={value['group']}" if value.get("group") else ""
        others = sorted(set(value) - {"host", "text", "ttl", "targetstrip", "group"})
        if others:
            extra += " " + ",".join(f"{k}={value[k]}" for k in others)
        if value.get("host"):
            host = value["host"]
            try:
                rtype = "A" if ipaddress.ip_address(host).version == 4 else "AAAA"
            except ValueError:
                rtype, host = "CNAME", host.rstrip(".") + "."
            out.append((name, f"{name}. {ttl} {rtype} {host}{extra}"))
        if value.get("text"):
            out.append((name, f"{name}. {ttl} TXT {value['text']!r}{extra}"))
    return out


def slice_of(lines: list[tuple[str, str]], domain: str) -> list[str]:
    return sorted(line for name, line in lines if name == domain or name.endswith("." + domain))


# ---------------------------------------------------------------- the module fixture: everything once


@dataclass
class Outcome:
    theirs: dict[str, list[str]] = field(default_factory=dict)  # scenario id -> records
    ours: dict[str, list[str]] = field(default_factory=dict)
    ours_error: dict[str, str] = field(default_factory=dict)  # run -> why our run failed
    leftovers: dict[str, list[str]] = field(default_factory=dict)  # "<run> <side>" -> unattributed
    timings: dict[str, float] = field(default_factory=dict)


@pytest.fixture(scope="module")
def outcome(
    kube: client.ApiClient, etcd_url: str, kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Outcome]:
    tmp = tmp_path_factory.mktemp("gwdiff")
    out = Outcome()
    t0 = time.monotonic()
    ensure_crds(Kube(kube), kubeconfig, tmp)
    out.timings["crds"] = time.monotonic() - t0

    t0 = time.monotonic()
    objects = [obj for s in SCENARIOS for obj in s.build(ctx(s))]
    for obj in sorted(objects, key=lambda o: o["kind"] != "Namespace"):
        create(kube, obj)
    out.timings["objects"] = time.monotonic() - t0

    by_id = {s.id: s for s in SCENARIOS}
    for run in RUNS.values():
        scenarios = [s for s in SCENARIOS if s.run == run.name]
        domain = base_domain(run.name)
        flags = run.flags(lambda sid: ctx(by_id[sid]))
        theirs_prefix, ours_prefix = f"/gwd-{TAG}-theirs-{run.name}", f"/gwd-{TAG}-ours-{run.name}"
        t0 = time.monotonic()
        external_dns_once(
            etcd_url,
            tmp / f"external-dns-{run.name}.log",
            kubeconfig,
            OWNER,
            theirs_prefix,
            domain,
            *flags,
            sources=run.sources,
        )
        out.timings[f"external-dns {run.name}"] = time.monotonic() - t0
        t0 = time.monotonic()
        source_flags = [f"--source={source}" for source in run.sources]
        try:
            extdns_once(
                etcd_url,
                tmp / f"extdns-{run.name}.log",
                kubeconfig,
                OWNER,
                ours_prefix,
                domain,
                *source_flags,
                *flags,
            )
        except AssertionError as e:
            out.ours_error[run.name] = str(e)
        out.timings[f"extdns {run.name}"] = time.monotonic() - t0

        for side, prefix, table in (("theirs", theirs_prefix, out.theirs), ("ours", ours_prefix, out.ours)):
            lines = visible(etcd_records(etcd_url, prefix), prefix)
            attributed: set[str] = set()
            for s in scenarios:
                table[s.id] = slice_of(lines, ctx(s).domain)
                attributed.update(table[s.id])
            out.leftovers[f"{run.name} {side}"] = sorted(line for _, line in lines if line not in attributed)
    (tmp / "outcome.json").write_text(json.dumps(out.__dict__, indent=1))
    yield out
    print(f"\ngateway differential: {tmp / 'outcome.json'}")
    print("\ngateway differential timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in out.timings.items()))


# ---------------------------------------------------------------- the comparisons


def owner_txt(resource: str) -> str:
    return repr(f'"heritage=external-dns,external-dns/owner={OWNER},external-dns/resource={resource}"')


def expected_difference(scenario: Scenario, theirs: list[str]) -> tuple[list[str], list[str]]:
    """(what ExternalDNS v0.22.0 writes, what we write) for a scenario with a documented difference."""
    c = ctx(scenario)
    app = c.host("app")
    if scenario.difference == "merged-resource":
        # Two objects, one name: ExternalDNS keeps the ownership of whichever its informer lists first
        # (random); we keep the lexicographically first object's (r1, e1), the same on every run.
        first, second = ("e1", "e2") if scenario.id.startswith("crd") else ("r1", "r2")
        owners = {line.rsplit("/", 1)[1] for line in theirs if " TXT " in line}
        assert owners in ({f"{first}\"'"}, {f"{second}\"'"}), owners
        return theirs, sorted(line.replace(f'/{second}"', f'/{first}"') for line in theirs)
    if scenario.difference == "no-targets":
        # An A entry without targets: ExternalDNS writes its ownership TXT and no record (it leaves such
        # entries to --default-targets); we skip the entry, so no ownership without a record.
        resource = owner_txt(f"crd/{c.ns()}/e")
        return [f"a-{c.host('empty')}. 300 TXT {resource}"], []
    if scenario.difference == "alpha-prefix":
        # v0.22.0 reads only external-dns.kubernetes.io/: the alpha-prefixed target is ignored; we read both.
        resource = owner_txt(f"httproute/{c.ns()}/r")
        return (
            sorted([f"{app}. 300 A 203.0.113.9", f"a-{app}. 300 TXT {resource}"]),
            sorted([f"{app}. 300 A 198.51.100.2", f"a-{app}. 300 TXT {resource}"]),
        )
    raise AssertionError(f"unknown difference {scenario.difference!r}")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_scenario(outcome: Outcome, scenario: Scenario) -> None:
    theirs = outcome.theirs[scenario.id]
    if scenario.produces:
        assert theirs, f"ExternalDNS wrote nothing for {scenario.id}: the harness or the scenario is broken"
    else:
        assert theirs == [], "ExternalDNS was expected to write nothing"
    assert scenario.run not in outcome.ours_error, outcome.ours_error.get(scenario.run)
    ours = outcome.ours[scenario.id]
    if scenario.difference:
        want_theirs, want_ours = expected_difference(scenario, theirs)
        assert theirs == want_theirs
        assert ours == want_ours
    else:
        assert ours == theirs


@pytest.mark.parametrize("run", list(RUNS))
def test_every_record_belongs_to_a_scenario(outcome: Outcome, run: str) -> None:
    assert run not in outcome.ours_error, outcome.ours_error.get(run)
    assert outcome.leftovers[f"{run} theirs"] == []
    assert outcome.leftovers[f"{run} ours"] == []
