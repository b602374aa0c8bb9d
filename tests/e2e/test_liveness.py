"""A hung watch is noticed: restarted, and the emitter's /healthz fails while its watches are silent."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from tests.e2e.listproxy import ListProxy
from tests.e2e.pipeline import make_pipeline


def healthz(port: int) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_a_hung_watch_is_restarted_and_healthz_fails_while_it_is_silent(
    redis_url: str, etcd_url: str, kubeconfig: Path, tmp_path: Path
) -> None:
    p = make_pipeline(redis_url, etcd_url, kubeconfig, tmp_path, EXTERNAL_DNS_SOURCE="service")
    # The proxy answers LISTs and the Lease normally, but a watch never gets a byte back: it buffers
    # the whole response, and a watch's response does not end (a half-open connection, as seen by us).
    with ListProxy(kubeconfig, 0.0, lambda method, path: False) as proxy:
        try:
            env = {"KUBECONFIG": str(proxy.kubeconfig(tmp_path / "hung")), "EXTERNAL_DNS_WATCH_IDLE_TIMEOUT": "3s"}
            p.start_emitter("emitter", env=env)
            port = p.ports["emitter"]
            p.wait("/healthz to fail", lambda: healthz(port)[0] == 503, 20)
            _, body = healthz(port)
            assert "watch of " in body and " silent for " in body, body
            p.wait("the hung watch to be restarted",
                   lambda: "(hung connection); restarting" in p.log("emitter"), 40)  # fmt: skip
        finally:
            p.stop()


def test_healthz_is_ok_while_the_watches_are_alive(
    redis_url: str, etcd_url: str, kubeconfig: Path, tmp_path: Path
) -> None:
    p = make_pipeline(redis_url, etcd_url, kubeconfig, tmp_path, EXTERNAL_DNS_SOURCE="service")
    try:
        p.start_emitter("emitter", env={"EXTERNAL_DNS_WATCH_IDLE_TIMEOUT": "3s"})
        port = p.ports["emitter"]
        assert healthz(port) == (200, "OK")
    finally:
        p.stop()
