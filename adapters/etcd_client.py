"""etcd connection settings from ExternalDNS's ETCD_* environment variables, and the client they make."""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import grpc
import pyetcd

TRUE_WORDS = frozenset({"true", "yes", "1"})


class EtcdConfigError(ValueError):
    """A bad ETCD_* setting; the message names it."""


@dataclass(frozen=True)
class EtcdEndpoint:
    host: str
    port: int


@dataclass(frozen=True)
class EtcdSettings:
    """What ExternalDNS's coredns provider reads from the environment, validated."""

    endpoints: tuple[EtcdEndpoint, ...]
    secure: bool
    username: str = ""
    password: str = ""
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    server_name: str = ""
    insecure: bool = False
    timeout: float = 5.0

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
            username=env.get("ETCD_USERNAME", ""),
            password=env.get("ETCD_PASSWORD", ""),
            ca_file=env.get("ETCD_CA_FILE", ""),
            cert_file=cert,
            key_file=key,
            server_name=env.get("ETCD_TLS_SERVER_NAME", ""),
            insecure=env.get("ETCD_TLS_INSECURE", "").lower() in TRUE_WORDS,
        )
        for name, path in (
            ("ETCD_CA_FILE", settings.ca_file),
            ("ETCD_CERT_FILE", cert),
            ("ETCD_KEY_FILE", key),
        ):
            if path and not Path(path).is_file():
                raise EtcdConfigError(f"{name}={path!r}: no such file")
        return settings

    @property
    def urls(self) -> str:
        scheme = "https" if self.secure else "http"
        return ",".join(f"{scheme}://{e.host}:{e.port}" for e in self.endpoints)


def _read(path: str) -> bytes | None:
    return Path(path).read_bytes() if path else None


def _root_certificates(settings: EtcdSettings) -> bytes | None:
    if settings.ca_file:
        return _read(settings.ca_file)
    if settings.insecure:
        # gRPC cannot skip verification: trust whatever certificate the first endpoint presents.
        first = settings.endpoints[0]
        return ssl.get_server_certificate((first.host, first.port)).encode()
    return None


def connect(settings: EtcdSettings) -> pyetcd.Etcd3Client:
    """A client for the settings; several endpoints fail over in order."""
    # Reconnect within seconds after an outage (gRPC's default backoff grows to two minutes).
    options: list[tuple[str, str | int]] = [
        ("grpc.initial_reconnect_backoff_ms", 200),
        ("grpc.max_reconnect_backoff_ms", 2000),
    ]
    if settings.server_name:
        options.append(("grpc.ssl_target_name_override", settings.server_name))
    auth = {"user": settings.username or None, "password": settings.password or None}
    if len(settings.endpoints) == 1 and not settings.secure:
        e = settings.endpoints[0]
        plain = pyetcd.client(
            host=e.host, port=e.port, timeout=settings.timeout, grpc_options=options, **auth
        )
        return _token_as_metadata(plain)
    creds = None
    if settings.secure:
        creds = grpc.ssl_channel_credentials(
            root_certificates=_root_certificates(settings),
            private_key=_read(settings.key_file),
            certificate_chain=_read(settings.cert_file),
        )
    endpoints = [
        pyetcd.Endpoint(e.host, e.port, secure=settings.secure, creds=creds, opts=options)
        for e in settings.endpoints
    ]
    return _token_as_metadata(
        pyetcd.MultiEndpointEtcd3Client(endpoints=endpoints, timeout=settings.timeout, failover=True, **auth)
    )


def _token_as_metadata(client: pyetcd.Etcd3Client) -> pyetcd.Etcd3Client:
    """Send the auth token only as the `token` metadata pyetcd already adds, as etcd's Go client does.

    pyetcd also wraps it in gRPC call credentials, which gRPC refuses on a plain http:// channel
    ("Established channel does not have a sufficient security level"), so ETCD_USERNAME/ETCD_PASSWORD
    never worked without TLS.
    """
    client.call_credentials = None
    return client
