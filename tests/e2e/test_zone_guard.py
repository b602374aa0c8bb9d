"""Zone safety on the real pipeline: reserved `dns` names and other namespaces' domains are refused, visibly."""

from __future__ import annotations

import sys
import uuid

import pytest
from kubernetes import client

from tests.e2e.pipeline import Pipeline
from tests.e2e.test_pipeline import lb_service, namespace
from tools import testenv


@pytest.fixture
def pipeline(service_pipeline: Pipeline) -> Pipeline:
    return service_pipeline  # the beat is not started: the only resync is the one a test runs


def error_events(p: Pipeline, ns: str, name: str) -> list[str]:
    events = client.EventsV1Api(p.core.api_client).list_namespaced_event(ns).items
    return [
        e.note or ""
        for e in events
        if e.reason == "RecordError" and e.regarding is not None and e.regarding.name == name
    ]


def keys_under(p: Pipeline, name: str) -> list[str]:
    base = "/".join([p.prefix, *reversed(name.split("."))])
    return [k for k in p.records() if k == base or k.startswith(base + "/")]


def resync_once(p: Pipeline) -> str:
    """One full sync in its own process (the path the beat's resync takes); its log."""
    log = p.logdir / f"sync-{uuid.uuid4().hex[:6]}.log"
    proc = testenv.Proc(
        "sync", [sys.executable, "-m", "process.cli", "sync", "--once"], log, env=p.env
    ).start()
    assert proc.popen is not None
    proc.popen.wait(60)
    text = log.read_text(errors="replace")
    assert proc.popen.returncode == 0, text[-3000:]
    return text


def test_names_under_the_reserved_dns_label_are_refused_with_an_event(pipeline: Pipeline) -> None:
    p = pipeline
    p.start_worker()
    p.start_emitter()
    ns = namespace(p.core)
    apex, below, kept = f"apex.dns.{p.domain}", f"x.dns.{p.domain}", f"kept.{p.domain}"
    lb_service(p.core, ns, "apex", apex, "203.0.113.60")
    lb_service(p.core, ns, "mixed", f"{below},{kept}", "203.0.113.61")
    lb_service(p.core, ns, "web", f"web.{p.domain}", "203.0.113.62")
    p.wait("the other Service's record", lambda: p.hosts(f"web.{p.domain}") == ["203.0.113.62"])
    p.wait("the rest of the mixed Service", lambda: p.hosts(kept) == ["203.0.113.61"])
    p.wait("the RecordError Event on apex", lambda: any(apex in n for n in error_events(p, ns, "apex")))
    p.wait("the RecordError Event on mixed", lambda: any(below in n for n in error_events(p, ns, "mixed")))
    log = p.log("worker")
    assert any(f"service/{ns}/apex" in line and apex in line for line in log.splitlines()), log[-3000:]
    resync_log = resync_once(p)
    assert any(f"service/{ns}/apex" in line and apex in line for line in resync_log.splitlines())
    assert keys_under(p, f"dns.{p.domain}") == [], (
        "no record or ownership TXT under dns.<zone>, even after a resync"
    )
    assert p.hosts(f"web.{p.domain}") == ["203.0.113.62"] and p.hosts(kept) == ["203.0.113.61"]


def test_a_namespace_claims_only_the_domains_the_map_gives_it(pipeline: Pipeline) -> None:
    p = pipeline  # the map is set below, before any process starts
    team_a, team_b = namespace(p.core), namespace(p.core)
    p.env["EXTERNAL_DNS_NAMESPACE_DOMAINS"] = f"{team_a}=a.{p.domain};{team_b}=b.{p.domain}"
    p.start_worker()
    p.start_emitter()
    app = f"app.a.{p.domain}"
    lb_service(p.core, team_b, "thief", app, "198.51.100.20")
    lb_service(p.core, team_a, "owner", app, "198.51.100.10")
    lb_service(p.core, team_b, "own", f"app.b.{p.domain}", "198.51.100.21")
    p.wait("team-a's record", lambda: p.hosts(app) == ["198.51.100.10"])
    p.wait("team-b's own record", lambda: p.hosts(f"app.b.{p.domain}") == ["198.51.100.21"])
    p.wait(
        "the RecordError Event on team-b's Service",
        lambda: any(app in n for n in error_events(p, team_b, "thief")),
    )
    assert error_events(p, team_a, "owner") == []
    resync_once(p)
    assert p.hosts(app) == ["198.51.100.10"], "the resync refuses it too"
    records = p.records()
    texts = [records[k]["text"] for k in keys_under(p, f"a-app.a.{p.domain}")]
    assert texts and all(f"service/{team_a}/owner" in t for t in texts), texts
