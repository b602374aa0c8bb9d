"""A running pipeline for end-to-end tests: real worker, emitter and beat processes on the test stack."""

from __future__ import annotations

import json
import os
import re
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyetcd
import redis
from kubernetes import client

from tools import testenv

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Pipeline:
    """The processes and how to reach what they write."""

    env: dict[str, str]
    prefix: str
    domain: str
    etcd_url: str
    core: client.CoreV1Api
    logdir: Path
    procs: dict[str, testenv.Proc] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)  # metrics/health port of each emitter
    _etcd: pyetcd.Etcd3Client | None = None

    @property
    def etcd(self) -> pyetcd.Etcd3Client:
        if self._etcd is None:
            url = urlsplit(self.etcd_url)
            self._etcd = pyetcd.client(url.hostname, url.port, timeout=5)
        return self._etcd

    def start(self, name: str, *argv: str, env: dict[str, str] | None = None) -> testenv.Proc:
        proc = testenv.Proc(
            name, [sys.executable, *argv], self.logdir / f"{name}.log", env={**self.env, **(env or {})}
        ).start()
        self.procs[name] = proc
        return proc

    def start_worker(
        self, name: str = "worker", concurrency: int = 1, env: dict[str, str] | None = None
    ) -> testenv.Proc:
        return self.start(
            name, "-m", "celery", "-A", "tasks", "worker", "--pool=prefork", f"--concurrency={concurrency}",
            "--without-gossip", "--without-mingle", "--loglevel=INFO", "-n", f"{name}-{uuid.uuid4().hex[:6]}@%h",
            env=env,
        )  # fmt: skip

    def start_emitter(
        self, name: str = "emitter", lead: bool = True, env: dict[str, str] | None = None
    ) -> testenv.Proc:
        """Start an emitter; with `lead`, return once it holds the lease and its first lists are in."""
        port = self.ports[name] = testenv.free_port()
        before = self.resyncs()
        proc = self.start(
            name, "-m", "process.cli", "emitter", f"--metrics-address=127.0.0.1:{port}", env=env
        )
        if lead:
            self.wait(f"{name} to lead", lambda: "became the leader" in self.log(name))
            if any(n.startswith("worker") for n in self.procs):  # a new leader asks for one resync
                self.wait(f"{name}'s first resync", lambda: self.resyncs() > before)
        return proc

    def resyncs(self, state: str = "succeeded") -> int:
        """Resync tasks the workers logged as `state` (received, succeeded)."""
        pattern = re.compile(r"Task extdns\.resync\[[^\]]+\] " + state)
        return sum(len(pattern.findall(self.log(n))) for n in self.procs if n.startswith("worker"))

    def start_beat(self) -> testenv.Proc:
        schedule = self.logdir / "beat-schedule"
        return self.start(
            "beat", "-m", "celery", "-A", "tasks", "beat", "--loglevel=INFO", "-s", str(schedule)
        )

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.stop()

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.env["CELERY_BROKER_URL"])

    def log(self, name: str) -> str:
        return (self.logdir / f"{name}.log").read_text(errors="replace")

    # ------------------------------------------------------------ what etcd holds

    def records(self) -> dict[str, dict[str, Any]]:
        try:
            return {m.key.decode(): json.loads(v) for v, m in self.etcd.get_prefix(self.prefix + "/")}
        except Exception:  # etcd down or a broken channel: ask again with a new client next time
            self._etcd = None
            return {}

    def hosts(self, name: str) -> list[str]:
        labels = name.split(".")
        base = "/".join([self.prefix, *reversed(labels)]) + "/"
        return sorted(v["host"] for k, v in self.records().items() if k.startswith(base) and "host" in v
                      and k.count("/") == base.count("/"))  # fmt: skip

    def wait(self, what: str, probe: Callable[[], bool], timeout: float = 30.0) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            for name, proc in self.procs.items():
                if not proc.alive():
                    raise AssertionError(f"{name} exited:\n{self.log(name)[-3000:]}")
            if probe():
                return time.monotonic() - start
            time.sleep(0.02)
        logs = "\n".join(f"--- {n}\n{self.log(n)[-2500:]}" for n in self.procs)
        raise AssertionError(f"timed out waiting for {what}; records: {self.records()}\n{logs}")


def make_pipeline(redis_url: str, etcd_url: str, kubeconfig: Path, tmp: Path, **extra: str) -> Pipeline:
    tag = uuid.uuid4().hex[:8]
    prefix = f"/skydns-{tag}"
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        CELERY_BROKER_URL=redis_url,
        ETCD_URLS=etcd_url,
        KUBECONFIG=str(kubeconfig),
        EXTERNAL_DNS_POLICY="sync",
        EXTERNAL_DNS_TXT_OWNER_ID=f"e2e-{tag}",
        EXTERNAL_DNS_COREDNS_PREFIX=prefix,
        EXTERNAL_DNS_DOMAIN_FILTER=f"{tag}.example.org",
        EXTERNAL_DNS_LEADER_ELECTION_LEASE=f"emitter-{tag}",
        EXTERNAL_DNS_LEADER_ELECTION_DURATION="3s",
        EXTERNAL_DNS_INTERVAL="3s",
        CELERY_VISIBILITY_TIMEOUT="5",
        EXTERNAL_DNS_METRICS_ADDRESS="",  # several processes per test: each asks for a port of its own
    )
    env.update(extra)
    api = client.CoreV1Api(_api(kubeconfig))
    return Pipeline(env, prefix, f"{tag}.example.org", etcd_url, api, tmp)


def _api(kubeconfig: Path) -> client.ApiClient:
    from kubernetes import config

    return config.new_client_from_config(config_file=str(kubeconfig))
