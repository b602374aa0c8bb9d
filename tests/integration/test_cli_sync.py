"""`extdns sync --once` and `extdns plan` as a user runs them: exit codes, one-line failures, real etcd."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pyetcd

from tools import testenv

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = """\
apiVersion: v1
kind: Service
metadata:
  name: nginx-frontend
  annotations: {external-dns.alpha.kubernetes.io/hostname: nginx.example.org}
spec: {type: LoadBalancer, ports: [{port: 80}]}
status: {loadBalancer: {ingress: [{ip: 203.0.113.10}]}}
"""


def extdns(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "process.cli", *args],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_sync_once_from_manifests_writes_then_dry_run_and_second_run_write_nothing(
    etcd: pyetcd.Etcd3Client, etcd_url: str, tmp_path: Path
) -> None:
    manifest = tmp_path / "svc.yaml"
    manifest.write_text(MANIFEST)
    prefix = f"/cli-{uuid.uuid4().hex[:8]}"
    env = {"ETCD_URLS": etcd_url}
    args = (
        "sync",
        "--once",
        "--from-manifests",
        str(manifest),
        "--policy",
        "sync",
        "--coredns-prefix",
        prefix,
    )

    dry = extdns(*args, "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "running in dry-run mode" in dry.stderr and "Add/set key" in dry.stderr
    assert list(etcd.get_prefix(prefix + "/")) == []

    first = extdns(*args, env=env)
    assert first.returncode == 0, first.stderr
    values = {m.key.decode(): json.loads(v) for v, m in etcd.get_prefix(prefix + "/")}
    assert sorted(v.get("host", "") for v in values.values()) == ["", "203.0.113.10"]
    before = etcd.get_response("/").header.revision

    second = extdns(*args, env=env)
    assert second.returncode == 0 and "All records are already up to date" in second.stderr
    assert etcd.get_response("/").header.revision == before


def test_sync_once_fails_with_one_line_when_etcd_is_unreachable(tmp_path: Path) -> None:
    manifest = tmp_path / "svc.yaml"
    manifest.write_text(MANIFEST)
    dead = f"http://127.0.0.1:{testenv.free_port()}"
    out = extdns(
        "sync", "--once", "--from-manifests", str(manifest), "--policy", "sync", env={"ETCD_URLS": dead}
    )
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("extdns: failed to do run once:") and "Traceback" not in out.stderr


def test_bad_settings_stop_start_up_with_one_line_naming_them(tmp_path: Path) -> None:
    manifest = tmp_path / "svc.yaml"
    manifest.write_text(MANIFEST)
    cases = {
        ("--policy", "bogus"): "--policy",
        ("--policy", "sync", "--txt-prefix", "a", "--txt-suffix", "b"): "--txt-prefix",
        ("--policy", "sync", "--label-filter", "a in ("): "--label-filter",
        ("--policy", "sync", "--interval", "soon"): "--interval",
        (): "--policy is required",
    }
    for flags, named in cases.items():
        out = extdns("plan", "--from-manifests", str(manifest), *flags, env={})
        assert out.returncode == 2, (flags, out.stderr)
        assert out.stderr.count("\n") == 1 and named in out.stderr, (flags, out.stderr)
    bad_env = {"ETCD_URLS": "ftp://x", "EXTERNAL_DNS_POLICY": "sync"}
    out = extdns("plan", "--from-manifests", str(manifest), env=bad_env)
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "ETCD_URLS" in out.stderr and "must start with either http:// or https://" in out.stderr
