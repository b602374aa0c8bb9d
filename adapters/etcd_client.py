"""etcd connection settings from ExternalDNS's ETCD_* environment variables, and the client they make."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import pyetcd

from etcdconn import connection as etcd_conn

TRUE_WORDS = frozenset({"true", "yes", "1"})


class EtcdConfigError(ValueError):
    """A bad ETCD_* setting; the message names it."""


EtcdEndpoint = etcd_conn.Endpoint


@dataclass(frozen=True)
class EtcdSettings(etcd_conn.ConnSpec):
    """What ExternalDNS's coredns provider reads from the environment, validated: a shared ConnSpec."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> EtcdSettings:
        env = os.environ if env is None else env
        raw = env.get("ETCD_URLS", "http://localhost:2379")
        urls = [u.strip() for u in raw.split(",") if u.strip()]
        if not urls:
            raise EtcdConfigError("ETCD_URLS is empty")
        schemes = {urlsplit(u).scheme for u in urls}
        if not schemes <= {"http", "https"}:
            raise EtcdConfigError(f"ETCD_URLS={raw!r}: etcd URLs must start with either http:// or https://")
        if len(schemes) > 1:
            raise EtcdConfigError(f"ETCD_URLS={raw!r}: mixes http:// and https://")
        endpoints = []
        for u in urls:
            parts = urlsplit(u)
            if not parts.hostname:
                raise EtcdConfigError(f"ETCD_URLS: {u!r} has no host")
            endpoints.append(EtcdEndpoint(parts.hostname, parts.port or 2379))
        cert, key = env.get("ETCD_CERT_FILE", ""), env.get("ETCD_KEY_FILE", "")
        if bool(cert) != bool(key):
            raise EtcdConfigError(
                "ETCD_CERT_FILE and ETCD_KEY_FILE: either both cert and key or none must be provided"
            )
        settings = cls(
            endpoints=tuple(endpoints),
            secure=schemes == {"https"},
            # ExternalDNS authenticates only when both are set, and ignores one alone.
            username=env.get("ETCD_USERNAME", "") if env.get("ETCD_PASSWORD") else "",
            password=env.get("ETCD_PASSWORD", "") if env.get("ETCD_USERNAME") else "",
            ca_file=env.get("ETCD_CA_FILE", ""),
            cert_file=cert,
            key_file=key,
            server_name=env.get("ETCD_TLS_SERVER_NAME", ""),
            insecure_skip_verify=env.get("ETCD_TLS_INSECURE", "").lower() in TRUE_WORDS,
        )
        names = {
            "ca": "ETCD_CA_FILE",
            "cert": "ETCD_CERT_FILE",
            "key": "ETCD_KEY_FILE",
            "credentials": "ETCD_*",
        }
        try:
            settings.check(names)
        except etcd_conn.EtcdConnError as e:
            raise EtcdConfigError(str(e)) from e
        return settings

    @property
    def urls(self) -> str:
        scheme = "https" if self.secure else "http"
        return ",".join(f"{scheme}://{e.host}:{e.port}" for e in self.endpoints)


def connect(settings: EtcdSettings) -> pyetcd.Etcd3Client:
    """A client for the settings; several endpoints fail over in order; the auth token is renewed."""
    return etcd_conn.connect(settings)
