"""The programs compared side by side: real CoreDNS and ExternalDNS, our DNS server and `extdns sync`.

Shared by the interop tests (tests/*/test_interop_*.py) and the benchmark (bench/peers.py). Everything
listens on 127.0.0.1 and every process is stopped by its PID (tools.testenv.Proc).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pyetcd

from tools import testenv

ROOT = Path(__file__).resolve().parents[1]
# ExternalDNS v0.22.0 reads only this prefix by default (it was external-dns.alpha.kubernetes.io/ before).
HOSTNAME = "external-dns.kubernetes.io/hostname"
TTL = "external-dns.kubernetes.io/ttl"
WRITE_LINE = re.compile(r"(Add/set key|Delete key) ")


# ---------------------------------------------------------------- DNS servers


def corefile(prefix: str, etcd_url: str, cache: bool = False, zone: str = ".") -> str:
    """One server block for zone on the etcd plugin (and `cache 30`), as the seed setup's Corefile has it."""
    extra = " cache 30\n" if cache else ""
    return f"{zone} {{\n etcd {{\n  path {prefix.rstrip('/')}\n  endpoint {etcd_url}\n }}\n{extra}}}\n"


@dataclass
class DnsServer:
    """A running DNS server (ours or CoreDNS) on 127.0.0.1:port."""

    proc: testenv.Proc
    port: int

    def stop(self) -> None:
        self.proc.stop()


def _start_dns(name: str, argv: list[str], workdir: Path, text: str, zone: str) -> DnsServer:
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / f"{name}.Corefile"
    conf.write_text(text)
    port = testenv.free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    argv = [*argv, "-conf", str(conf), "-dns.port", str(port)]
    proc = testenv.Proc(name, argv, workdir / f"{name}.log", env=env).start()

    def serving() -> bool:  # NOERROR for the zone's SOA: listening, and (ours) its etcd snapshot loaded
        return ask(port, zone, "SOA", timeout=0.3).rcode() == dns.rcode.NOERROR

    try:
        testenv.wait_until(name, proc, lambda: _quiet(serving), 30)
    except BaseException:
        proc.stop()
        raise
    return DnsServer(proc, port)


def _quiet(probe: Any) -> bool:
    try:
        return bool(probe())
    except dns.exception.DNSException:
        return False


def start_coredns(
    workdir: Path, prefix: str, etcd_url: str, cache: bool = False, zone: str = "."
) -> DnsServer:
    """Real CoreDNS (etcd plugin, `path prefix`) over etcd_url."""
    text = corefile(prefix, etcd_url, cache, zone)
    return _start_dns("coredns", [str(testenv.binary("coredns"))], workdir, text, zone)


def start_dnsserver(
    workdir: Path, prefix: str, etcd_url: str, cache: bool = False, zone: str = "."
) -> DnsServer:
    """Our DNS server (`python -m dnsserver`) on the same Corefile."""
    argv = [sys.executable, "-m", "dnsserver", "-dns.host", "127.0.0.1"]
    return _start_dns("dnsserver", argv, workdir, corefile(prefix, etcd_url, cache, zone), zone)


def ask(port: int, name: str, qtype: str = "A", timeout: float = 2.0) -> dns.message.Message:
    return dns.query.udp(dns.message.make_query(name, qtype), "127.0.0.1", port=port, timeout=timeout)


def values(port: int, name: str, qtype: str = "A", timeout: float = 2.0) -> list[str]:
    """The answer's rdata of type qtype, sorted (TXT with its quotes, names with their dot)."""
    want = dns.rdatatype.from_text(qtype)
    msg = ask(port, name, qtype, timeout)
    return sorted(rr.to_text() for rrset in msg.answer if rrset.rdtype == want for rr in rrset)


def answer(port: int, name: str, qtype: str) -> tuple[str, list[str]]:
    """(rcode, every answer RR as `name ttl type rdata`), order-insensitive: what a client relies on."""
    msg = ask(port, name, qtype)
    rrs = sorted(
        f"{rrset.name} {rrset.ttl} {dns.rdatatype.to_text(rrset.rdtype)} {rr.to_text()}"
        for rrset in msg.answer
        for rr in rrset
    )
    return dns.rcode.to_text(msg.rcode()), rrs


# ---------------------------------------------------------------- the two controllers


@dataclass
class Run:
    """One finished controller run: exit code, output, CPU seconds (user + system) and wall seconds."""

    argv: list[str]
    returncode: int
    output: str
    cpu: float
    wall: float

    @property
    def writes(self) -> list[str]:
        """The provider's write log lines (`Add/set key ...`, `Delete key ...`), as both print them."""
        return [line for line in self.output.splitlines() if WRITE_LINE.search(line)]

    def check(self) -> Run:
        if self.returncode != 0:
            raise AssertionError(f"{self.argv[0]} exited {self.returncode}:\n{self.output[-4000:]}")
        return self


def run(argv: list[str], env: dict[str, str], logfile: Path, timeout: float = 900.0) -> Run:
    """Run to completion; CPU time is the child's own rusage (os.wait4), not a guess from the outside."""
    proc = testenv.Proc(Path(argv[0]).name, argv, logfile, env=env)
    start = time.monotonic()
    proc.start()
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.stop()
            raise TimeoutError(f"{argv[0]} still running after {timeout:.0f}s (log: {logfile})")
        time.sleep(0.01)
    wall = time.monotonic() - start
    assert proc.popen is not None
    proc.popen.returncode = os.waitstatus_to_exitcode(status)
    output = logfile.read_text(errors="replace")
    return Run(argv, proc.popen.returncode, output, usage.ru_utime + usage.ru_stime, wall)


def controller_env(etcd_url: str) -> dict[str, str]:
    """The environment of one controller run: etcd from ETCD_URLS, no broker, no inherited settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EXTERNAL_DNS_", "ETCD_", "CELERY_"))}
    return dict(env, ETCD_URLS=etcd_url, PYTHONPATH=str(ROOT))


def external_dns_argv(
    kubeconfig: Path,
    owner: str,
    prefix: str,
    domain: str,
    *extra: str,
    sources: tuple[str, ...] = ("service", "ingress"),
) -> list[str]:
    """Real ExternalDNS with the coredns provider and the TXT registry; metrics on loopback only."""
    return [
        str(testenv.binary("external-dns")),
        "--provider=coredns",
        "--registry=txt",
        *(f"--source={source}" for source in sources),
        f"--txt-owner-id={owner}",
        "--policy=sync",
        f"--kubeconfig={kubeconfig}",
        f"--coredns-prefix={prefix.rstrip('/')}/",
        f"--domain-filter={domain}",
        f"--metrics-address=127.0.0.1:{testenv.free_port()}",
        *extra,
    ]


def extdns_argv(kubeconfig: Path, owner: str, prefix: str, domain: str, *extra: str) -> list[str]:
    """This project's `extdns sync` under the same flags."""
    return [
        sys.executable,
        "-m",
        "process.cli",
        "sync",
        "--policy=sync",
        f"--txt-owner-id={owner}",
        f"--kubeconfig={kubeconfig}",
        f"--coredns-prefix={prefix.rstrip('/')}/",
        f"--domain-filter={domain}",
        *extra,
    ]


def external_dns_once(
    etcd_url: str,
    logfile: Path,
    kubeconfig: Path,
    owner: str,
    prefix: str,
    domain: str,
    *extra: str,
    sources: tuple[str, ...] = ("service", "ingress"),
) -> Run:
    argv = external_dns_argv(kubeconfig, owner, prefix, domain, "--once", *extra, sources=sources)
    return run(argv, controller_env(etcd_url), logfile).check()


def extdns_once(
    etcd_url: str, logfile: Path, kubeconfig: Path, owner: str, prefix: str, domain: str, *extra: str
) -> Run:
    argv = extdns_argv(kubeconfig, owner, prefix, domain, "--once", *extra)
    return run(argv, controller_env(etcd_url), logfile).check()


# ---------------------------------------------------------------- etcd


def etcd_client(etcd_url: str) -> pyetcd.Etcd3Client:
    u = urlsplit(etcd_url)
    return pyetcd.client(host=u.hostname, port=u.port)


ETCD_COUNTERS = {
    "range": 'grpc_server_handled_total{grpc_code="OK",grpc_method="Range"',
    "txn": 'grpc_server_handled_total{grpc_code="OK",grpc_method="Txn"',
    "put": 'grpc_server_handled_total{grpc_code="OK",grpc_method="Put"',
    "delete": 'grpc_server_handled_total{grpc_code="OK",grpc_method="DeleteRange"',
    "revision": "etcd_debugging_mvcc_current_revision ",
}


def etcd_requests(etcd_url: str) -> dict[str, int]:
    """KV requests etcd has served so far by gRPC method, and its revision (from /metrics: no KV request).

    The revision moves on every put or delete, whoever makes it.
    """
    with urllib.request.urlopen(f"{etcd_url}/metrics", timeout=5) as r:
        lines = r.read().decode().splitlines()
    out = dict.fromkeys(ETCD_COUNTERS, 0)
    for line in lines:
        for name, start in ETCD_COUNTERS.items():
            if line.startswith(start):
                out[name] += int(float(line.rsplit(" ", 1)[1]))
    return out


def etcd_revision(etcd_url: str) -> int:
    return etcd_requests(etcd_url)["revision"]


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before[k] for k in before}


def etcd_records(etcd_url: str, prefix: str) -> dict[str, dict[str, Any]]:
    """Every value under prefix/, decoded."""
    c = etcd_client(etcd_url)
    try:
        root = prefix.rstrip("/") + "/"
        return {m.key.decode(): json.loads(v) for v, m in c.get_prefix(root)}
    finally:
        c.close()


def count(lines: Iterable[str], needle: str) -> int:
    return sum(1 for line in lines if needle in line)
