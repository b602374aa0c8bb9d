"""The `extdns` command: `sync` (in-process, `--once`), `plan` (preview), `emitter` (watch → queue)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

import extdns
from adapters.outages import backend_of
from controller.convergence import Wanted, converge
from extdns.sources import Cluster, ManifestError, endpoints_table, endpoints_to_json, load_manifests
from extdns.sources.collect import collect
from process import logs, resources
from process import settings as settings_mod

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


def read_manifests(path: str) -> Cluster:
    """Kubernetes objects from a YAML/JSON file or every such file under a directory."""
    root = Path(path)
    if root.is_dir():
        files = sorted(p for p in root.rglob("*") if p.suffix in MANIFEST_SUFFIXES and p.is_file())
    elif root.is_file():
        files = [root]
    else:
        raise ManifestError(f"--from-manifests: {path}: no such file or directory")
    objects = []
    for f in files:
        objects += load_manifests(f.read_text(), str(f))
    return Cluster.from_objects(objects)


def _runtime(args: argparse.Namespace) -> resources.Runtime:
    s = settings_mod.load(args)
    logs.configure(s.log_level, s.log_format)
    rt = resources.Runtime(s)
    resources.install(rt)
    return rt


def cmd_plan(args: argparse.Namespace) -> int:
    rt = _runtime(args)
    found = collect(read_manifests(args.from_manifests), rt.source_config, rt.sources)
    for r in found.rejections:
        logs.log.warning(f"Skipping {r.subject}: {r.reason}")
    print(endpoints_to_json(found.endpoints) if args.output == "json" else endpoints_table(found.endpoints))
    if os.environ.get("ETCD_URLS"):
        out = converge(rt.store, rt.sync_config, lambda todo: Wanted(found.endpoints), dry_run=True)
        print(f"plan against {os.environ['ETCD_URLS']}: {out.planned} names to change", file=sys.stderr)
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    rt = _runtime(args)
    s = rt.settings
    from controller.reconcile import full_sync
    from process.resources import tune_gc

    tune_gc()

    read = (lambda: read_manifests(args.from_manifests)) if args.from_manifests else None
    index = "CELERY_BROKER_URL" in os.environ and not args.from_manifests
    if s.dry_run:
        logs.log.info("running in dry-run mode. No changes to DNS records will be made.")
    stop = _stop_flag()
    while True:
        try:
            full_sync(rt.controller, read, dry_run=s.dry_run, rebuild_index=index)
        except Exception as exc:
            backend = backend_of(exc)
            if s.once or backend is None:
                print(f"extdns: failed to do run once: {exc}".splitlines()[0], file=sys.stderr)
                return 1
            logs.log.error(f"Failed to do run once: {backend} unavailable")
        if s.once or stop.wait(s.interval):
            return 0


class _Stop:
    def __init__(self) -> None:
        self.stopped = False

    def wait(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while not self.stopped and time.monotonic() < deadline:
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        return self.stopped


def _stop_flag() -> _Stop:
    stop = _Stop()

    def handler(signum: int, frame: FrameType | None) -> None:
        logs.log.info("Received SIGTERM. Terminating...")
        stop.stopped = True

    signal.signal(signal.SIGTERM, handler)
    return stop


def cmd_emitter(args: argparse.Namespace) -> int:
    rt = _runtime(args)
    from emitter.process import run

    return run(rt)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="extdns", description="Event-driven DNS names for Kubernetes.")
    p.add_argument("--version", action="version", version=f"extdns {extdns.__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    sync = sub.add_parser("sync", help="run full syncs in this process (every --interval, or --once)")
    sync.add_argument("--from-manifests", metavar="PATH", help="desired state from YAML/JSON, not a cluster")
    sync.set_defaults(func=cmd_sync)
    plan = sub.add_parser(
        "plan", help="print the endpoints manifests would produce (and the plan, with ETCD_URLS)"
    )
    plan.add_argument("--from-manifests", metavar="PATH", required=True)
    plan.add_argument("-o", "--output", choices=("table", "json"), default="table")
    plan.set_defaults(func=cmd_plan)
    emitter = sub.add_parser("emitter", help="watch the cluster and queue a message per changed object")
    emitter.set_defaults(func=cmd_emitter)
    for cmd in (sync, plan, emitter):
        settings_mod.add_flags(cmd)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except (settings_mod.SettingsError, ManifestError, ValueError) as e:
        print(f"extdns: {e}".splitlines()[0], file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
