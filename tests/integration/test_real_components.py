"""The integration tier talks to a real etcd, a real Redis and a real Celery worker process."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pyetcd
import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]


def test_etcd_put_range_and_watch_see_each_other(etcd: pyetcd.Etcd3Client) -> None:
    prefix = f"/it/{uuid.uuid4().hex}/"
    seen: list[tuple[str, bytes]] = []
    got_three = threading.Event()

    def on_event(resp: object) -> None:
        for ev in resp.events:  # type: ignore[attr-defined]
            seen.append((ev.key.decode(), ev.value))
        if len(seen) >= 3:
            got_three.set()

    watch_id = etcd.add_watch_prefix_callback(prefix, on_event)
    try:
        for i in range(3):
            etcd.put(f"{prefix}k{i}", f"v{i}")
        values = sorted((m.key.decode(), v) for v, m in etcd.get_prefix(prefix))
        assert values == [(f"{prefix}k{i}", f"v{i}".encode()) for i in range(3)]
        assert got_three.wait(10), f"watch saw only {seen}"
        assert seen == [(f"{prefix}k{i}", f"v{i}".encode()) for i in range(3)]
        # a bare byte-prefix of the range must not leak into it
        etcd.put(prefix.rstrip("/") + "x", "neighbour")
        assert len(list(etcd.get_prefix(prefix))) == 3
    finally:
        etcd.cancel_watch(watch_id)


def test_redis_is_a_real_server(redis_client: redis.Redis) -> None:
    key = f"it:{uuid.uuid4().hex}"
    assert redis_client.set(key, "1", ex=30)
    assert redis_client.incr(key) == 2
    assert redis_client.info("server")["redis_version"]


def test_celery_task_round_trip_through_a_real_worker(redis_url: str, tmp_path: Path) -> None:
    env = dict(os.environ, CELERY_BROKER_URL=redis_url, PYTHONPATH=str(ROOT), EXTERNAL_DNS_POLICY="sync")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tasks",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
            "-n",
            f"it-{uuid.uuid4().hex[:8]}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=(tmp_path / "worker.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        from celery import Celery

        client = Celery("extdns-test", broker=redis_url, backend=redis_url)
        token = uuid.uuid4().hex
        result = client.send_task("extdns.ping", args=[token]).get(timeout=60)
        assert result["token"] == token
        assert result["pid"] == worker.pid
    finally:
        worker.terminate()
        worker.wait(20)
    assert "extdns.ping" in (tmp_path / "worker.log").read_text()


@pytest.mark.parametrize("process", ["worker", "beat"])
def test_a_worker_or_beat_with_a_bad_setting_exits_with_one_line_naming_it(
    process: str, redis_url: str, tmp_path: Path
) -> None:
    env = dict(os.environ, CELERY_BROKER_URL=redis_url, PYTHONPATH=str(ROOT), EXTERNAL_DNS_POLICY="sync",
               EXTERNAL_DNS_INTERVAL="soon")  # fmt: skip
    argv = [sys.executable, "-m", "celery", "-A", "tasks", process, "--loglevel=INFO"]
    if process == "beat":
        argv += ["-s", str(tmp_path / "schedule")]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("extdns:")]
    assert len(lines) == 1 and "--interval" in lines[0], done.stderr[-2000:]
    assert "Traceback" not in done.stderr


def test_importing_tasks_reads_no_settings_and_configures_no_logging(tmp_path: Path) -> None:
    code = (
        "import logging, tasks, tasks.celery_tasks; "
        "from process import resources as runtime; "
        "assert runtime._current is None, 'settings were read at import'; "
        "assert not logging.getLogger().handlers, 'logging was configured at import'; "
        "print('clean')"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), EXTERNAL_DNS_INTERVAL="not-a-duration")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.stdout.strip() == "clean", done.stderr[-2000:]
