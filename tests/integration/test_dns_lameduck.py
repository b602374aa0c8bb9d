"""`health { lameduck D }`: after SIGTERM the server keeps answering for D, then exits (as CoreDNS)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import dns.message
import dns.query
import pytest

from tools import testenv


def _answers(port: int) -> bool:
    try:
        r = dns.query.udp(
            dns.message.make_query("nothing.example.", "A"), "127.0.0.1", port=port, timeout=0.5
        )
    except (OSError, dns.exception.Timeout):
        return False
    return r.rcode() in (0, 3)


@pytest.mark.parametrize("processes", ["1", "2"])
def test_a_lameduck_server_answers_for_its_duration_after_sigterm_then_exits(
    processes: str, etcd_url: str, tmp_path: Path
) -> None:
    port, health = testenv.free_port(), testenv.free_port()
    conf = tmp_path / "Corefile"
    conf.write_text(
        f". {{\n bind 127.0.0.1\n health 127.0.0.1:{health} {{\n  lameduck 2s\n }}\n"
        f" etcd {{\n  endpoint {etcd_url}\n }}\n}}\n"
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dnsserver",
            "-conf",
            str(conf),
            "-dns.port",
            str(port),
            "-processes",
            processes,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not _answers(port):
            assert proc.poll() is None and time.monotonic() < deadline, "the server never answered"
            time.sleep(0.1)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        while time.monotonic() - t0 < 1.5:
            assert _answers(port), (
                f"no answer {time.monotonic() - t0:.2f}s after SIGTERM, inside the lameduck"
            )
            time.sleep(0.1)
        assert proc.wait(10) == 0
        assert 2.0 <= time.monotonic() - t0 < 8.0
    finally:
        proc.kill()
        proc.wait()
