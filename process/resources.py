"""Per-process resources, made on first use from the settings: Kubernetes, etcd, Redis, and the configs."""

from __future__ import annotations

import contextlib
import gc
import os
from dataclasses import dataclass, field
from functools import cached_property

import redis

from adapters import kube_events
from adapters.etcd_client import EtcdSettings, connect
from adapters.etcd_records import EtcdStore
from adapters.kube_api import Kube, api_client
from adapters.kube_cluster import KubeCluster
from adapters.redis_claims import Claims
from controller.reconcile import Controller, ResyncMemo
from extdns.sources import SourceConfig
from extdns.sources.collect import CollectMemo
from extdns.syncconfig import SyncConfig
from process import settings as settings_mod

DEFAULT_BROKER = "redis://127.0.0.1:6379/0"


def visibility_timeout() -> float:
    """Seconds before the broker redelivers an unacknowledged message (CELERY_VISIBILITY_TIMEOUT, 60)."""
    return float(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "60"))


def retry_cap() -> float:
    """The longest retry countdown: half the visibility timeout, so a waiting retry is never redelivered."""
    return visibility_timeout() / 2


@dataclass
class Runtime:
    """What a task or command needs; each client is created once per process, when first used."""

    settings: settings_mod.Settings
    redis_url: str = field(default_factory=lambda: os.environ.get("CELERY_BROKER_URL", DEFAULT_BROKER))
    resync_memo: ResyncMemo = field(default_factory=ResyncMemo)  # this process's last no-op resync
    collect_memo: CollectMemo = field(default_factory=CollectMemo)  # its resyncs' sources results

    @cached_property
    def sync_config(self) -> SyncConfig:
        return self.settings.sync_config()

    @cached_property
    def source_config(self) -> SourceConfig:
        return self.settings.source_config()

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.settings.source))

    @cached_property
    def kube(self) -> Kube:
        s = self.settings
        return Kube(api_client(s.kubeconfig, s.server), s.kube_api_request_timeout)

    @cached_property
    def store(self) -> EtcdStore:
        return EtcdStore(connect(EtcdSettings.from_env()), self.sync_config.prefix)

    def reset_etcd(self) -> None:
        """Drop the etcd client after a failure; the next use connects afresh."""
        store = self.__dict__.pop("store", None)
        if store is not None:
            with contextlib.suppress(Exception):  # closing a broken channel may fail too
                store.client.close()

    @cached_property
    def claims(self) -> Claims:
        client = redis.Redis.from_url(self.redis_url, socket_timeout=10, socket_connect_timeout=5)
        return Claims(
            client,
            stale=self.settings.pending_expiry,
            lock_ttl=int(max(300.0, 3 * visibility_timeout())),
        )

    @property
    def controller(self) -> Controller:
        """The ports and configs a convergence runs on (the etcd client may have been replaced)."""
        s = self.settings
        return Controller(
            store=self.store,
            cluster=KubeCluster(lambda: self.kube, self.sources, self.source_config),
            claims=self.claims,
            sync_config=self.sync_config,
            source_config=self.source_config,
            sources=self.sources,
            events_emit=tuple(s.events_emit),
            notify=lambda ref, reason, note, warning: kube_events.post(self.kube, ref, reason, note, warning),
            memo=self.resync_memo,
            collect_memo=self.collect_memo,
        )


_current: Runtime | None = None


def current() -> Runtime:
    """This process's runtime, from `EXTERNAL_DNS_*` and `ETCD_*` env (Celery workers and beat)."""
    global _current
    if _current is None:
        _current = Runtime(settings_mod.load())
    return _current


def install(runtime: Runtime) -> None:
    """Use this runtime in this process (the `extdns` command, built from its flags)."""
    global _current
    _current = runtime


def tune_gc() -> None:
    """Fewer collections of the long-lived heap: the no-op resync of 100k names spends ~20% in the GC."""
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
