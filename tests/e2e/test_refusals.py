"""A name held by another owner: nothing is written, and the refusal is visible (log line, Event, gauge)."""

from __future__ import annotations

import json

import pytest
from kubernetes import client

from tests.e2e.pipeline import Pipeline
from tests.e2e.test_pipeline import lb_service, namespace


@pytest.fixture
def pipeline(service_pipeline: Pipeline) -> Pipeline:
    return service_pipeline  # the beat is not started: the only resync is the one a test runs


def test_a_name_another_owner_holds_is_refused_with_a_log_line_and_an_event(pipeline: Pipeline) -> None:
    p = pipeline
    name = f"taken.{p.domain}"
    base = "/".join([p.prefix, *reversed(name.split("."))])
    txt_base = "/".join([p.prefix, *reversed(f"a-{name}".split("."))])
    foreign = '"heritage=external-dns,external-dns/owner=other-cluster,external-dns/resource=service/x/y"'
    p.etcd.put(f"{base}/1a2b3c4d", json.dumps({"host": "198.51.100.9", "targetstrip": 1}))
    p.etcd.put(f"{txt_base}/5e6f7a8b", json.dumps({"text": foreign, "targetstrip": 1}))
    before = p.records()
    p.start_worker()
    p.start_emitter()
    ns = namespace(p.core)
    lb_service(p.core, ns, "mine", name, "203.0.113.50")
    p.wait("the refusal", lambda: "because owner id does not match" in p.log("worker"))
    line = next(x for x in p.log("worker").splitlines() if "because owner id does not match" in x)
    assert 'found: \\"other-cluster\\"' in line or 'found: "other-cluster"' in line, line
    events = client.EventsV1Api(p.core.api_client)
    p.wait("the RecordError Event", lambda: any(
        e.reason == "RecordError" and "other-cluster" in (e.note or "")
        for e in events.list_namespaced_event(ns).items
    ))  # fmt: skip
    assert p.records() == before, "the other owner's records are untouched and nothing was added"
