"""Outages of Redis and etcd, and the loss of the leader emitter: retried, never a crash, converged after."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes.client.exceptions import ApiException

from tests.e2e.pipeline import Pipeline, make_pipeline
from tests.e2e.test_pipeline import lb_service, namespace, set_lb
from tools import testenv

OUTAGE = 12.0  # seconds; long enough for several failed retries and a missed beat tick


@pytest.fixture
def private(tmp_path: Path) -> Iterator[dict[str, testenv.Proc | str]]:
    """A Redis and an etcd of this test's own, to stop and start again on the same ports."""
    redis_proc, redis_url = testenv.start_redis(tmp_path)
    etcd_proc, etcd_url = testenv.start_etcd(tmp_path, "etcd-outage")
    try:
        yield {"redis": redis_proc, "redis_url": redis_url, "etcd": etcd_proc, "etcd_url": etcd_url}
    finally:
        redis_proc.stop()
        etcd_proc.stop()


def _pipeline(private: dict[str, testenv.Proc | str], kubeconfig: Path, tmp: Path) -> Pipeline:
    return make_pipeline(str(private["redis_url"]), str(private["etcd_url"]), kubeconfig, tmp / "p")


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    (tmp_path / "p").mkdir()
    return tmp_path


def test_redis_outage_is_ridden_out_and_changes_meanwhile_converge(
    private: dict[str, testenv.Proc | str], kubeconfig: Path, logs: Path
) -> None:
    p = _pipeline(private, kubeconfig, logs)
    try:
        p.start_worker()
        p.start_emitter()
        p.start_beat()
        ns = namespace(p.core)
        before = f"before.{p.domain}"
        lb_service(p.core, ns, "before", before, "192.0.2.1")
        p.wait("the first record", lambda: p.hosts(before) == ["192.0.2.1"])
        redis = private["redis"]
        assert isinstance(redis, testenv.Proc)
        redis.stop()
        during = f"during.{p.domain}"
        lb_service(p.core, ns, "during", during, "192.0.2.2")
        time.sleep(OUTAGE)
        for name in ("worker", "emitter", "beat"):
            assert p.procs[name].alive(), f"{name} exited during the Redis outage:\n{p.log(name)[-2000:]}"
        redis.start()  # same port
        p.wait("the change made during the outage", lambda: p.hosts(during) == ["192.0.2.2"], 60)
        assert "redis unavailable" in p.log("emitter")
    finally:
        p.stop()


def test_etcd_outage_is_retried_and_converges(
    private: dict[str, testenv.Proc | str], kubeconfig: Path, logs: Path
) -> None:
    p = _pipeline(private, kubeconfig, logs)
    try:
        p.start_worker()
        p.start_emitter()
        ns = namespace(p.core)
        etcd = private["etcd"]
        assert isinstance(etcd, testenv.Proc)
        etcd.stop()
        name = f"late.{p.domain}"
        lb_service(p.core, ns, "late", name, "192.0.2.3")
        time.sleep(OUTAGE)
        assert p.procs["worker"].alive(), p.log("worker")[-2000:]
        assert "etcd unavailable, retrying reconcile" in p.log("worker")
        etcd.start()  # same ports and data
        p.wait("the record written after etcd came back", lambda: p.hosts(name) == ["192.0.2.3"], 90)
    finally:
        p.stop()


def test_the_standby_emitter_takes_over_when_the_leader_dies(
    redis_url: str, etcd_url: str, kubeconfig: Path, tmp_path: Path
) -> None:
    p = make_pipeline(redis_url, etcd_url, kubeconfig, tmp_path)  # lease duration 3 s
    try:
        p.start_worker()
        first = p.start_emitter("first")
        p.start_emitter("second", lead=False)
        time.sleep(2)
        assert "became the leader" not in p.log("second"), "two leaders at once"
        assert first.popen is not None
        first.popen.send_signal(signal.SIGKILL)
        first.popen.wait()
        del p.procs["first"]
        took = p.wait("the standby to lead", lambda: "became the leader" in p.log("second"), 15)
        assert took < 3 + 3, f"standby took {took:.1f}s (lease 3 s)"
        ns = namespace(p.core)
        name = f"failover.{p.domain}"
        lb_service(p.core, ns, "failover", name, "192.0.2.4")
        p.wait("a record through the new leader", lambda: p.hosts(name) == ["192.0.2.4"])
    finally:
        p.stop()


def test_the_emitter_recovers_from_an_api_server_restart(
    redis_url: str, etcd_url: str, tmp_path: Path
) -> None:
    """Its watches break, then resume or relist (410 Gone after the restart); no process exits."""
    kube_etcd, kube_etcd_url = testenv.start_etcd(tmp_path, "etcd-kube-private")
    apiserver, kubeconfig = testenv.start_kube_apiserver(tmp_path, kube_etcd_url)
    p = make_pipeline(redis_url, etcd_url, kubeconfig, tmp_path)
    try:
        p.start_worker()
        p.start_emitter()
        ns = namespace(p.core)
        first = f"first.{p.domain}"
        lb_service(p.core, ns, "first", first, "192.0.2.5")
        p.wait("the first record", lambda: p.hosts(first) == ["192.0.2.5"])
        apiserver.stop()
        time.sleep(5)
        assert p.procs["emitter"].alive() and p.procs["worker"].alive()
        apiserver.start()  # same port, certificates and etcd
        testenv.wait_until("kube-apiserver", apiserver, lambda: _ready(p), 120)
        second = f"second.{p.domain}"
        # Right after a restart the API server may still refuse to allocate a ClusterIP (500 "range
        # is full" until its allocator has synced): that is the server starting, not us; try again.
        p.wait("the Service to be created", lambda: _created(p, ns, "second", second), 60)
        p.wait("a record after the restart", lambda: p.hosts(second) == ["192.0.2.6"], 60)
        log = p.log("emitter")
        noticed = ("lease renewal failed", "watch of Service failed, retrying")
        assert any(n in log for n in noticed), log[-3000:]
    finally:
        p.stop()
        apiserver.stop()
        kube_etcd.stop()


def _created(p: Pipeline, ns: str, name: str, hostname: str) -> bool:
    try:
        lb_service(p.core, ns, name, hostname)
    except ApiException as e:
        if e.status == 500:
            return False
        if e.status != 409:  # 409: an earlier try created it; its status still needs setting
            raise
    try:
        set_lb(p.core, ns, name, "192.0.2.6")
    except ApiException as e:
        if e.status == 500:
            return False
        raise
    return True


def _ready(p: Pipeline) -> bool:
    try:
        p.core.list_namespace(limit=1)
        return True
    except Exception:
        return False
