"""The DNS server against the real etcd: watch-fed answers over UDP and TCP, outages, ops endpoints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pyetcd
import pytest

from dnsserver import corefile
from dnsserver.app import App, running
from dnsserver.store import read_prefix
from tools import testenv

ROOT = Path(__file__).resolve().parents[2]


def ask(port: int, name: str, qtype: str = "A", tcp: bool = False) -> dns.message.Message:
    q = dns.message.make_query(name, qtype)
    if tcp:
        return dns.query.tcp(q, "127.0.0.1", port=port, timeout=3)
    return dns.query.udp(q, "127.0.0.1", port=port, timeout=3)


def addresses(m: dns.message.Message) -> list[str]:
    return sorted(r.address for rrset in m.answer for r in rrset if rrset.rdtype in (1, 28))


def wait_for(probe: object, timeout: float = 5.0) -> float:
    assert callable(probe)
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if probe():
            return time.monotonic() - t0
        time.sleep(0.001)
    raise AssertionError("condition not reached")


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def start_cli(
    cf: Path, port: int, out: IO[bytes], env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`python -m dnsserver` on loopback with this Corefile, its output into `out`."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dnsserver",
            "-conf",
            str(cf),
            "-dns.port",
            str(port),
            "-dns.host",
            "127.0.0.1",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def conf(etcd_url: str, prefix: str, extra: str = "cache 30") -> str:
    return (
        f". {{\n errors\n health 127.0.0.1:0\n ready 127.0.0.1:0\n prometheus 127.0.0.1:0\n"
        f" etcd {{\n  path {prefix}\n  endpoint {etcd_url}\n }}\n {extra}\n}}\n"
    )


@pytest.fixture
def prefix() -> str:
    return f"/skydns-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def server(etcd_url: str, prefix: str) -> Iterator[App]:
    with running(corefile.parse(conf(etcd_url, prefix), 0)) as app:
        wait_for(lambda: all(s.loaded for s in app.stores.values()))
        yield app


def test_put_is_answered_over_udp_and_tcp_within_20ms(
    server: App, etcd: pyetcd.Etcd3Client, prefix: str
) -> None:
    port = server.ports[0]
    assert ask(port, "web.example.org").rcode() == dns.rcode.NXDOMAIN
    etcd.put(f"{prefix}/org/example/web/a1", json.dumps({"host": "10.1.0.1", "ttl": 60}))
    took = wait_for(lambda: addresses(ask(port, "web.example.org")) == ["10.1.0.1"])
    assert took < 0.2  # includes the query round-trips; the watch itself is ms
    udp = ask(port, "web.example.org")
    tcp = ask(port, "Web.Example.ORG", tcp=True)
    assert addresses(tcp) == ["10.1.0.1"]
    assert udp.flags & dns.flags.AA and not udp.flags & dns.flags.RA
    assert tcp.answer[0].name.to_text() == "Web.Example.ORG."  # query case kept
    assert udp.answer[0].ttl == 30  # cache 30 caps TTLs as CoreDNS's cache does
    # an update and a delete invalidate the cached answer at once
    etcd.put(f"{prefix}/org/example/web/a1", json.dumps({"host": "10.1.0.2"}))
    wait_for(lambda: addresses(ask(port, "web.example.org")) == ["10.1.0.2"], 1)
    etcd.delete(f"{prefix}/org/example/web/a1")
    wait_for(lambda: ask(port, "web.example.org").rcode() == dns.rcode.NXDOMAIN, 1)


def test_put_latency_is_under_20ms(server: App, etcd: pyetcd.Etcd3Client, prefix: str) -> None:
    port = server.ports[0]
    times = []
    for i in range(10):
        name = f"lat{i}.example.org"
        ask(port, name)  # cached NXDOMAIN first: the put must invalidate it
        t0 = time.monotonic()
        etcd.put(f"{prefix}/org/example/lat{i}/x", json.dumps({"host": f"10.2.0.{i}"}))
        wait_for(lambda name=name: addresses(ask(port, name)) != [], 2)  # type: ignore[misc]
        times.append(time.monotonic() - t0)
    times.sort()
    assert times[len(times) // 2] < 0.02, times


def test_bad_value_is_skipped_and_the_rest_answers(
    server: App, etcd: pyetcd.Etcd3Client, prefix: str
) -> None:
    port = server.ports[0]
    etcd.put(f"{prefix}/org/example/mixed/good", json.dumps({"host": "10.3.0.1"}))
    etcd.put(f"{prefix}/org/example/mixed/bad", '{"host": "10.3.0.2", "ttl": "60"}')
    wait_for(lambda: addresses(ask(port, "mixed.example.org")) == ["10.3.0.1"])
    status, body = http_get(server.http.bound("127.0.0.1:0"), "/metrics")
    assert status == 200
    assert "extdns_dnsserver_bad_values_skipped_total" in body
    assert "coredns_dns_requests_total" in body and "coredns_cache_misses_total" in body


def test_health_ready_and_metrics(server: App) -> None:
    port = server.http.bound("127.0.0.1:0")
    ask(server.ports[0], "x.example.org")
    assert http_get(port, "/health") == (200, "OK")
    status, body = http_get(port, "/ready")
    assert status == 200 and body.startswith("OK")
    _, metrics = http_get(port, "/metrics")
    for name in (
        "coredns_dns_requests_total",
        "coredns_dns_responses_total",
        "coredns_dns_request_duration_seconds_bucket",
        "extdns_dnsserver_keys_loaded",
        "extdns_dnsserver_snapshot_age_seconds",
    ):
        assert name in metrics


def test_etcd_outage_keeps_answering_and_recovers(tmp_path: Path) -> None:
    proc, url = testenv.start_etcd(tmp_path, "etcd-outage")
    try:
        from urllib.parse import urlsplit

        u = urlsplit(url)
        client = pyetcd.client(host=u.hostname, port=u.port)
        client.put("/skydns/org/example/keep/a", json.dumps({"host": "10.4.0.1"}))
        blocks = corefile.parse(conf(url, "/skydns", extra="log"), 0)
        with running(blocks) as app:
            port = app.ports[0]
            wait_for(lambda: addresses(ask(port, "keep.example.org")) == ["10.4.0.1"])
            client.close()
            proc.stop()
            time.sleep(1.0)
            t0 = time.monotonic()
            m = ask(port, "keep.example.org")
            assert time.monotonic() - t0 < 0.5
            assert m.rcode() == dns.rcode.NOERROR and addresses(m) == ["10.4.0.1"]
            status, body = http_get(app.http.bound("127.0.0.1:0"), "/ready")
            assert status == 200 and '"stale_seconds"' in body
            assert app.stores and next(iter(app.stores.values())).staleness() > 0
            proc.start()  # same argv: same ports and data
            wait_for(lambda: _put_ok(u.hostname, u.port, "/skydns/org/example/back/a", "10.4.0.2"), 20)
            wait_for(lambda: addresses(ask(port, "back.example.org")) == ["10.4.0.2"], 20)
    finally:
        proc.stop()


def _put_ok(host: str | None, port: int | None, key: str, ip: str) -> bool:
    """A fresh client per try: a pyetcd client that failed once stays failed."""
    client = pyetcd.client(host=host, port=port)
    try:
        client.put(key, json.dumps({"host": ip}))
        return True
    except Exception:
        return False
    finally:
        client.close()


def test_no_snapshot_means_servfail_then_answers(tmp_path: Path) -> None:
    port_url = f"http://127.0.0.1:{testenv.free_port()}"
    with running(corefile.parse(conf(port_url, "/skydns"), 0)) as app:
        m = ask(app.ports[0], "a.example.org")
        assert m.rcode() == dns.rcode.SERVFAIL
        status, _ = http_get(app.http.bound("127.0.0.1:0"), "/ready")
        assert status == 503


def test_python_m_dnsserver_end_to_end(etcd: pyetcd.Etcd3Client, etcd_url: str, tmp_path: Path) -> None:
    prefix = f"/skydns-{uuid.uuid4().hex[:10]}"
    etcd.put(f"{prefix}/org/example/cli/x", json.dumps({"host": "10.5.0.1"}))
    etcd.put(f"{prefix}/org/example/txt/x", json.dumps({"text": "hello"}))
    cf = tmp_path / "Corefile"
    cf.write_text(f". {{\n log\n etcd {{\n  path {prefix}\n  endpoint {etcd_url}\n }}\n cache 30\n}}\n")
    port = testenv.free_port()
    log = (tmp_path / "out.log").open("wb")
    p = start_cli(cf, port, log)
    try:

        def up() -> bool:
            try:
                return addresses(ask(port, "cli.example.org")) == ["10.5.0.1"]
            except Exception:
                return False

        wait_for(up, 20)
        assert addresses(ask(port, "cli.example.org", tcp=True)) == ["10.5.0.1"]
        txt = ask(port, "txt.example.org", "TXT")
        assert txt.answer[0][0].strings == (b"hello",)
    finally:
        p.terminate()
        p.wait(10)
    out = (tmp_path / "out.log").read_text()
    assert '"A IN cli.example.org. udp' in out and "NOERROR qr,aa,rd" in out, out


def test_bad_corefile_stops_startup_with_one_line(tmp_path: Path) -> None:
    cf = tmp_path / "Corefile"
    cf.write_text(". {\n etcd\n forward . 1.1.1.1\n}\n")
    r = subprocess.run(
        [sys.executable, "-m", "dnsserver", "-conf", str(cf)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == ["dnsserver: unknown directive 'forward' (Corefile line 3)"]


def test_every_key_of_one_transaction_is_applied(server: App, etcd: pyetcd.Etcd3Client, prefix: str) -> None:
    port = server.ports[0]
    ops = [
        etcd.transactions.put(f"{prefix}/org/example/txn{i}/x", json.dumps({"host": f"10.4.0.{i}"}))
        for i in range(5)
    ]
    ok, _ = etcd.transaction([], ops, [])
    assert ok
    wait_for(lambda: addresses(ask(port, "txn4.example.org")) == ["10.4.0.4"])
    assert [addresses(ask(port, f"txn{i}.example.org")) for i in range(5)] == [
        [f"10.4.0.{i}"] for i in range(5)
    ]


def test_a_snapshot_larger_than_one_grpc_message_is_read_in_pages(
    etcd: pyetcd.Etcd3Client, prefix: str
) -> None:
    ops = [etcd.transactions.put(f"{prefix}/k{i:02d}", "{}") for i in range(23)]
    etcd.transaction([], ops, [])
    rev, items = read_prefix(etcd, prefix + "/", page=5)
    assert [k for k, _ in items] == [f"{prefix}/k{i:02d}" for i in range(23)]
    assert rev == int(etcd.get_response(f"{prefix}/k00").header.revision)


@pytest.mark.parametrize("processes", ["1", "2"])
def test_an_etcd_tls_file_that_is_missing_stops_startup_with_one_line(tmp_path: Path, processes: str) -> None:
    cf = tmp_path / "Corefile"
    cf.write_text(". {\n etcd {\n  endpoint https://127.0.0.1:2379\n  tls /missing.crt\n }\n}\n")
    r = subprocess.run(
        [sys.executable, "-m", "dnsserver", "-conf", str(cf), "-dns.port", str(testenv.free_port())],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "DNSSERVER_PROCESSES": processes},
    )
    assert r.returncode == 1
    [line] = r.stderr.strip().splitlines()
    assert line.startswith("dnsserver: etcd") and "/missing.crt" in line, r.stderr
