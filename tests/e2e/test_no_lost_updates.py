"""No lost updates on the real processes: a resync whose Service LIST arrives late never undoes a newer write.

The emitter and a worker run against the real API server; `extdns sync --once` reads the cluster
through a proxy that holds its Service LIST for seconds. While it is held, the cluster changes and
the worker publishes the change. The resync's view is then older than what etcd holds: it must lose.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.listproxy import ListProxy, is_list
from tests.e2e.pipeline import Pipeline, make_pipeline
from tests.e2e.test_pipeline import lb_service, namespace, set_lb
from tools import testenv

DELAY = 4.0


@pytest.fixture
def pipeline(service_pipeline: Pipeline) -> Pipeline:
    return service_pipeline  # the beat is not started: the only resync is the one a test runs


@pytest.fixture
def proxy(kubeconfig: Path) -> Iterator[ListProxy]:
    with ListProxy(kubeconfig, DELAY, lambda method, path: is_list(method, path, "services")) as p:
        yield p


def slow_sync(p: Pipeline, proxy: ListProxy) -> testenv.Proc:
    """`extdns sync --once` reading the cluster through the proxy; returns once its Service LIST is held."""
    env = dict(p.env, KUBECONFIG=str(proxy.kubeconfig(p.logdir / "slow-kubeconfig")))
    proc = testenv.Proc("slow-sync", [sys.executable, "-m", "process.cli", "sync", "--once"],
                        p.logdir / "slow-sync.log", env=env).start()  # fmt: skip
    p.procs["slow-sync"] = proc
    assert proxy.answered.wait(30), p.log("slow-sync")
    return proc


def finished(p: Pipeline, proc: testenv.Proc) -> None:
    p.procs.pop("slow-sync")
    proc.popen.wait(60)
    assert proc.popen.returncode == 0, p.log("slow-sync")


def test_address_given_while_resync_lists_is_not_deleted_by_it(pipeline: Pipeline, proxy: ListProxy) -> None:
    p = pipeline
    p.start_worker()
    p.start_emitter()
    ns = namespace(p.core)
    name = f"fresh1.{p.domain}"
    proc = slow_sync(p, proxy)
    # The resync's Service list is already answered (and held): this Service is newer than its view.
    lb_service(p.core, ns, "fresh1", name, "203.0.113.21")
    p.wait("the worker to publish", lambda: p.hosts(name) == ["203.0.113.21"])
    finished(p, proc)
    assert p.hosts(name) == ["203.0.113.21"], p.log("slow-sync")
    assert any("/a-fresh1/" in k for k in p.records()), p.records()


def test_service_deleted_while_resync_lists_is_not_written_back(pipeline: Pipeline, proxy: ListProxy) -> None:
    p = pipeline
    p.start_worker()
    p.start_emitter()
    ns = namespace(p.core)
    name = f"gone1.{p.domain}"
    lb_service(p.core, ns, "gone1", name, "203.0.113.22")
    p.wait("the worker to publish", lambda: p.hosts(name) == ["203.0.113.22"])
    proc = slow_sync(p, proxy)
    p.core.delete_namespaced_service("gone1", ns)
    p.wait("the worker to remove it", lambda: p.records() == {})
    finished(p, proc)
    assert p.records() == {}, p.log("slow-sync")


def test_an_emitter_killed_between_mark_and_publish_blocks_no_later_event(
    redis_url: str, etcd_url: str, kubeconfig: Path, tmp_path: Path
) -> None:
    """The first emitter marks the Service as "message on its way" and dies before publishing.

    The mark expires (--pending-expiry), so the next change, seen by the next leader, is
    published and converged at once instead of being coalesced into a message that never left.
    """
    p = make_pipeline(redis_url, etcd_url, kubeconfig, tmp_path, EXTERNAL_DNS_SOURCE="service",
                      EXTERNAL_DNS_PENDING_EXPIRY="2s")  # fmt: skip
    try:
        p.start_worker()
        first = p.start_emitter("emitter-1", env={"EXTDNS_FAULT": "after-mark"})
        ns = namespace(p.core)
        name = f"handoff.{p.domain}"
        lb_service(p.core, ns, "handoff", name, "203.0.113.31")
        first.popen.wait(30)  # type: ignore[union-attr]
        assert "fault injected at after-mark" in p.log("emitter-1")
        p.procs.pop("emitter-1")
        waiting = p.redis().zscore("extdns:waiting", f"Service/{ns}/handoff")
        assert waiting is not None, "the mark was left behind without a message"
        p.start_emitter("emitter-2")  # leads once the dead one's lease (3 s) ran out
        time.sleep(2.5)  # past the mark's expiry
        set_lb(p.core, ns, "handoff", "203.0.113.32")
        p.wait("the next change to be published", lambda: p.hosts(name) == ["203.0.113.32"], 20)
    finally:
        p.stop()


def test_after_a_redis_flush_a_hostname_change_leaves_no_orphan_past_one_resync(pipeline: Pipeline) -> None:
    """The claims index is gone, so the task cannot know the old name: the next resync removes it."""
    p = pipeline
    p.start_worker()
    p.start_emitter()
    ns = namespace(p.core)
    old, new = f"before.{p.domain}", f"after.{p.domain}"
    lb_service(p.core, ns, "moving", old, "203.0.113.41")
    p.wait("the first name", lambda: p.hosts(old) == ["203.0.113.41"])
    p.redis().flushall()  # a Redis restart without persistence: the claims index is empty
    p.core.patch_namespaced_service(
        "moving", ns, {"metadata": {"annotations": {"external-dns.alpha.kubernetes.io/hostname": new}}}
    )
    p.wait("the new name", lambda: p.hosts(new) == ["203.0.113.41"])
    assert p.hosts(old) == ["203.0.113.41"], "without its claims the task could not know the old name"
    p.start_beat()  # --interval 3s
    took = p.wait("the orphan to go", lambda: p.hosts(old) == [], 3 * 2 + 10)
    assert not any("/before/" in k or "/a-before/" in k for k in p.records()), p.records()
    assert took < 3 * 2 + 10
