"""`-processes N`: N servers on one port, each with its own watch; one health/ready/metrics; a dead one restarts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.query
import pyetcd
import pytest

from tests.integration.test_dns_server import addresses, http_get, start_cli, wait_for
from tools import testenv


@pytest.fixture
def two(etcd_url: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, int, str]]:
    prefix = f"/skydns-{uuid.uuid4().hex[:10]}"
    ops = testenv.free_port()
    cf = tmp_path / "Corefile"
    cf.write_text(
        f". {{\n health 127.0.0.1:{ops}\n ready 127.0.0.1:{ops}\n prometheus 127.0.0.1:{ops}\n"
        f" etcd {{\n  path {prefix}\n  endpoint {etcd_url}\n }}\n}}\n"
    )
    port = testenv.free_port()
    out = (tmp_path / "out.log").open("wb")
    p = start_cli(cf, port, out, {"DNSSERVER_PROCESSES": "2"})
    try:
        wait_for(lambda: _ready(ops), 30)
        yield p, port, ops, prefix
    finally:
        p.terminate()
        p.wait(15)
        out.close()


def _ready(ops: int) -> bool:
    try:
        return http_get(ops, "/ready")[0] == 200
    except OSError:  # not listening yet
        return False


def _served(metrics: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("coredns_dns_requests_total{")
    )


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _ask_from_many_ports(port: int, name: str, n: int = 40) -> list[list[str]]:
    """The answer as seen from n different source ports: the kernel spreads them over the processes."""
    return [
        addresses(dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1", port=port, timeout=3))
        for _ in range(n)
    ]


def test_every_process_serves_the_same_watch_fed_answers(
    two: tuple[subprocess.Popen[bytes], int, int, str], etcd: pyetcd.Etcd3Client
) -> None:
    p, port, ops, prefix = two
    assert len(_children(p.pid)) == 2
    etcd.put(f"{prefix}/org/example/web/a", json.dumps({"host": "10.7.0.1"}))
    wait_for(lambda: all(a == ["10.7.0.1"] for a in _ask_from_many_ports(port, "web.example.org")), 5)
    _, metrics = http_get(ops, "/metrics")
    assert "extdns_dnsserver_processes_up 2.0" in metrics
    assert "extdns_dnsserver_keys_loaded 1.0" in metrics  # the same key in both: not summed
    assert _served(metrics) >= 40


def test_a_killed_process_is_restarted_and_the_other_answers_meanwhile(
    two: tuple[subprocess.Popen[bytes], int, int, str], etcd: pyetcd.Etcd3Client
) -> None:
    p, port, ops, prefix = two
    etcd.put(f"{prefix}/org/example/k/a", json.dumps({"host": "10.7.0.2"}))
    wait_for(lambda: all(a == ["10.7.0.2"] for a in _ask_from_many_ports(port, "k.example.org")), 5)
    before = _served(http_get(ops, "/metrics")[1])
    victim, survivor = _children(p.pid)
    os.kill(victim, signal.SIGKILL)
    t0 = time.monotonic()
    # Until the parent has reaped it, its threads may still hold the socket: a query the kernel hands it
    # then is lost, as with any UDP server that dies (the leader's /proc state says Z before that).
    wait_for(lambda: victim not in _children(p.pid), 5)
    # Through the restart, every answer is the record: the new process joins the port only once it has
    # the records (before, the kernel gave it a share of the queries while it could only say SERVFAIL).
    seen: list[list[str]] = []
    while time.monotonic() - t0 < 4:
        seen += _ask_from_many_ports(port, "k.example.org", 10)
    assert seen and all(a == ["10.7.0.2"] for a in seen), [a for a in seen if a != ["10.7.0.2"]][:3]
    wait_for(lambda: len(_children(p.pid)) == 2 and victim not in _children(p.pid), 10)
    wait_for(lambda: _ready(ops), 20)
    print(f"restarted and ready after {time.monotonic() - t0:.2f} s")
    assert survivor in _children(p.pid)
    assert all(a == ["10.7.0.2"] for a in _ask_from_many_ports(port, "k.example.org"))
    # the dead process's queries still count: the server's counters never go back
    assert _served(http_get(ops, "/metrics")[1]) >= before + 40
