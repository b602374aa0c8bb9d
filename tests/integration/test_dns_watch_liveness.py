"""The DNS server notices a silent or leaderless etcd watch within seconds, reports staleness, and recovers."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import dns.message
import dns.query
import pyetcd
import pytest

from dnsserver import corefile
from dnsserver.app import App, running
from tests.netproxy import FreezableProxy
from tools import testenv

pytestmark = pytest.mark.integration

NOTICE_WITHIN = 8.0  # generous bound on the store's silence limit plus a reconnect


def ask(port: int, name: str) -> list[str]:
    m = dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1", port=port, timeout=3)
    return sorted(r.address for rrset in m.answer for r in rrset if rrset.rdtype == 1)


def wait_for(probe: object, timeout: float) -> float:
    assert callable(probe)
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if probe():
            return time.monotonic() - t0
        time.sleep(0.05)
    raise AssertionError(f"condition not reached in {timeout}s")


def blocks(prefix: str, *endpoints: str) -> list[corefile.ServerBlock]:
    return corefile.parse(
        f". {{\n prometheus 127.0.0.1:0\n etcd {{\n  path {prefix}\n  endpoint {' '.join(endpoints)}\n }}\n}}\n",
        0,
    )


def snapshot_age(app: App) -> float:
    port = app.http.bound("127.0.0.1:0")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=3) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("extdns_dnsserver_snapshot_age_seconds "):
                return float(line.split()[1])
    raise AssertionError("no snapshot_age_seconds metric")


def client_for(url: str) -> pyetcd.Etcd3Client:
    u = urlsplit(url)
    return pyetcd.client(host=u.hostname, port=u.port, timeout=5)


def store_of(app: App) -> object:
    (s,) = app.stores.values()
    return s


@pytest.fixture
def prefix() -> str:
    return f"/skydns-{uuid.uuid4().hex[:10]}"


def test_a_frozen_watch_stream_is_noticed_and_a_write_made_meanwhile_is_served(
    etcd_url: str, prefix: str
) -> None:
    etcd = client_for(etcd_url)
    etcd.put(f"{prefix}/org/example/old/a", '{"host":"10.30.0.1"}')
    u = urlsplit(etcd_url)
    with (
        FreezableProxy((u.hostname or "127.0.0.1", u.port or 2379)) as proxy,
        running(blocks(prefix, f"http://{proxy.address}")) as app,
    ):
        store = store_of(app)
        port = app.ports[0]
        wait_for(lambda: ask(port, "old.example.org") == ["10.30.0.1"], 10)
        wait_for(lambda: store.staleness() == 0, 3)  # type: ignore[attr-defined]
        proxy.freeze()
        took = wait_for(lambda: store.staleness() > 0, NOTICE_WITHIN)  # type: ignore[attr-defined]
        print(f"silent watch noticed after {took:.1f}s")
        assert store.loaded  # type: ignore[attr-defined]
        assert ask(port, "old.example.org") == ["10.30.0.1"]  # stale answers are still served
        etcd.put(f"{prefix}/org/example/new/a", '{"host":"10.30.0.2"}')
        time.sleep(1)
        assert snapshot_age(app) >= 1.0  # the metric tells the truth while the stream is frozen
        assert ask(port, "new.example.org") == []
        proxy.thaw()
        wait_for(lambda: ask(port, "new.example.org") == ["10.30.0.2"], 15)
        wait_for(lambda: store.staleness() == 0, 5)  # type: ignore[attr-defined]
        assert snapshot_age(app) == 0
    etcd.close()


# ---------------------------------------------------------------- a 3-member cluster


class Cluster:
    def __init__(self, workdir: Path) -> None:
        names = ["m0", "m1", "m2"]
        self.clients = {n: f"http://127.0.0.1:{testenv.free_port()}" for n in names}
        peers = {n: f"http://127.0.0.1:{testenv.free_port()}" for n in names}
        initial = ",".join(f"{n}={p}" for n, p in peers.items())
        self.procs: dict[str, testenv.Proc] = {}
        for n in names:
            argv = [
                str(testenv.binary("etcd")),
                f"--name={n}",
                f"--data-dir={workdir / n}",
                f"--listen-client-urls={self.clients[n]}",
                f"--advertise-client-urls={self.clients[n]}",
                f"--listen-peer-urls={peers[n]}",
                f"--initial-advertise-peer-urls={peers[n]}",
                f"--initial-cluster={initial}",
                "--initial-cluster-state=new",
                "--heartbeat-interval=100",
                "--election-timeout=500",
                "--log-level=warn",
                "--unsafe-no-fsync",
            ]
            self.procs[n] = testenv.Proc(n, argv, workdir / f"{n}.log").start()
        for n in names:
            testenv.wait_until(n, self.procs[n], lambda n=n: self.healthy(n), 30)

    def healthy(self, n: str) -> bool:
        with urllib.request.urlopen(f"{self.clients[n]}/health", timeout=1) as r:
            return bool(json.loads(r.read()).get("health") == "true")

    def pause(self, n: str) -> None:
        os.kill(self.procs[n].pid, signal.SIGSTOP)

    def resume(self, n: str) -> None:
        os.kill(self.procs[n].pid, signal.SIGCONT)

    def stop(self) -> None:
        for n, p in self.procs.items():
            with contextlib.suppress(ProcessLookupError):
                self.resume(n)
            p.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield c
    finally:
        c.stop()


def test_a_partitioned_member_is_left_for_another_endpoint(cluster: Cluster, prefix: str) -> None:
    """The store watches m0 through a proxy; freezing it cuts m0 off: the store must move to m1/m2."""
    m0 = urlsplit(cluster.clients["m0"])
    writer = client_for(cluster.clients["m1"])
    writer.put(f"{prefix}/org/example/before/a", '{"host":"10.31.0.1"}')
    with (
        FreezableProxy((m0.hostname or "127.0.0.1", m0.port or 2379)) as proxy,
        running(
            blocks(prefix, f"http://{proxy.address}", cluster.clients["m1"], cluster.clients["m2"])
        ) as app,
    ):
        store = store_of(app)
        port = app.ports[0]
        wait_for(lambda: ask(port, "before.example.org") == ["10.31.0.1"], 10)
        proxy.freeze()
        writer.put(f"{prefix}/org/example/during/a", '{"host":"10.31.0.2"}')
        took = wait_for(lambda: ask(port, "during.example.org") == ["10.31.0.2"], NOTICE_WITHIN + 6)
        print(f"write made during the partition served after {took:.1f}s")
        wait_for(lambda: store.staleness() == 0, 5)  # type: ignore[attr-defined]
    writer.close()


def test_a_member_that_lost_its_leader_is_not_trusted(
    cluster: Cluster, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """m0 keeps running but loses quorum: require-leader cancels the watch, so staleness must grow."""
    writer = client_for(cluster.clients["m1"])
    writer.put(f"{prefix}/org/example/q/a", '{"host":"10.32.0.1"}')
    writer.close()
    with caplog.at_level(logging.WARNING, "dnsserver"), running(blocks(prefix, cluster.clients["m0"])) as app:
        store = store_of(app)
        port = app.ports[0]
        wait_for(lambda: ask(port, "q.example.org") == ["10.32.0.1"], 10)
        wait_for(lambda: store.staleness() == 0, 5)  # type: ignore[attr-defined]
        cluster.pause("m1")
        cluster.pause("m2")
        try:
            took = wait_for(lambda: store.staleness() > 0, NOTICE_WITHIN)  # type: ignore[attr-defined]
            print(f"leaderless member noticed after {took:.1f}s")
            assert "no leader" in caplog.text  # etcd cancelled the require-leader watch
            assert store.loaded  # type: ignore[attr-defined]
            assert ask(port, "q.example.org") == ["10.32.0.1"]
            time.sleep(1)
            assert snapshot_age(app) > 1.0
        finally:
            cluster.resume("m1")
            cluster.resume("m2")
        wait_for(lambda: store.staleness() == 0, 20)  # type: ignore[attr-defined]
        writer = client_for(cluster.clients["m1"])
        writer.put(f"{prefix}/org/example/q2/a", '{"host":"10.32.0.2"}')
        writer.close()
        wait_for(lambda: ask(port, "q2.example.org") == ["10.32.0.2"], 10)
