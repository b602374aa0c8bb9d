"""etcd connection settings (endpoints, TLS files, user/password), checked once, and the clients they make.

Both the controller (ExternalDNS's ETCD_* variables, adapters/etcd_client.py) and the DNS server (the
Corefile's etcd block, dnsserver/store.py) connect through here; it imports nothing of either.
"""

from __future__ import annotations

import os
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import grpc
import pyetcd

DEFAULT_PORT = 2379
RPC_TIMEOUT = 5.0
# An etcd auth token expires after --auth-token-ttl (300 s by default) of disuse, or at its fixed expiry
# for JWT tokens; pyetcd authenticates once only. Re-authenticate well before that.
TOKEN_REFRESH = 60.0
# Where Go (so CoreDNS and ExternalDNS) finds the system CAs on Linux when SSL_CERT_FILE is unset.
SYSTEM_CA_FILES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
)
# Reconnect within seconds after an outage (gRPC's default backoff grows to two minutes).
GRPC_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
)


class EtcdConnError(ValueError):
    """A connection setting that cannot be honoured; the message names it."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class ConnSpec:
    """Everything needed to reach etcd; `secure` means TLS, with `ca_file` or else the system CAs."""

    endpoints: tuple[Endpoint, ...]
    secure: bool
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    server_name: str = ""
    insecure_skip_verify: bool = False
    username: str = ""
    password: str = ""
    timeout: float = RPC_TIMEOUT

    def check(self, names: dict[str, str]) -> None:
        """Raise EtcdConnError naming the setting; `names` spells out ca/cert/key/credentials for the user."""
        if bool(self.cert_file) != bool(self.key_file):
            raise EtcdConnError(f"{names['cert']}: a client certificate needs its key and the reverse")
        for what, path, marker in (
            ("ca", self.ca_file, "CERTIFICATE"),
            ("cert", self.cert_file, "CERTIFICATE"),
            ("key", self.key_file, "PRIVATE KEY"),
        ):
            if path:
                _check_pem(names[what], path, marker)
        if bool(self.username) != bool(self.password):
            raise EtcdConnError(f"{names['credentials']}: both a user name and a password are needed")


def parse_endpoints(urls: Sequence[str], what: str) -> tuple[tuple[Endpoint, ...], bool | None]:
    """(endpoints, secure) from URLs; secure is None when no URL carries a scheme (then TLS is optional)."""
    if not urls:
        raise EtcdConnError(f"{what}: no endpoint")
    schemes: set[str] = set()
    out = []
    for raw in urls:
        u = urlsplit(raw if "://" in raw else "//" + raw)
        if u.scheme not in ("", "http", "https"):
            raise EtcdConnError(f"{what}: {raw!r} must start with http:// or https://")
        if not u.hostname:
            raise EtcdConnError(f"{what}: {raw!r} has no host")
        try:
            port = u.port or DEFAULT_PORT
        except ValueError as e:
            raise EtcdConnError(f"{what}: {raw!r}: {e}") from e
        if u.scheme:
            schemes.add(u.scheme)
        out.append(Endpoint(u.hostname, port))
    if len(schemes) > 1:
        raise EtcdConnError(f"{what}: mixes http:// and https:// endpoints")
    secure = None if not schemes else schemes == {"https"}
    return tuple(out), secure


def _check_pem(what: str, path: str, marker: str) -> None:
    try:
        text = Path(path).read_bytes()
    except OSError as e:
        raise EtcdConnError(f"{what} {path!r}: {e.strerror or e}") from e
    if b"-----BEGIN " not in text or marker.encode() not in text:
        raise EtcdConnError(f"{what} {path!r}: no PEM {marker.lower()} in the file")


def system_roots() -> bytes | None:
    """The system CA bundle as Go finds it (SSL_CERT_FILE, then the usual files); None: gRPC's own roots."""
    candidates = [os.environ.get("SSL_CERT_FILE", "")]
    candidates += [ssl.get_default_verify_paths().cafile or "", *SYSTEM_CA_FILES]
    for path in candidates:
        if path and Path(path).is_file():
            return Path(path).read_bytes()
    return None


def _roots(spec: ConnSpec) -> bytes | None:
    if spec.ca_file:
        return Path(spec.ca_file).read_bytes()
    if spec.insecure_skip_verify:
        # gRPC cannot skip verification: trust whatever certificate the first endpoint presents.
        first = spec.endpoints[0]
        return ssl.get_server_certificate((first.host, first.port)).encode()
    return system_roots()


def channel_credentials(spec: ConnSpec) -> grpc.ChannelCredentials:
    """TLS credentials, files re-read on every call (certificates get rotated)."""
    key = Path(spec.key_file).read_bytes() if spec.key_file else None
    cert = Path(spec.cert_file).read_bytes() if spec.cert_file else None
    return grpc.ssl_channel_credentials(
        root_certificates=_roots(spec), private_key=key, certificate_chain=cert
    )


class Client(pyetcd.MultiEndpointEtcd3Client):  # type: ignore[misc]
    """pyetcd's client with the auth token sent as plain metadata (call credentials need TLS) and renewed."""

    def __init__(
        self,
        endpoints: list[Any],
        timeout: float,
        username: str = "",
        password: str = "",
        extra_metadata: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self._username, self._password = username, password
        self._extra = extra_metadata
        self._token = ""
        self._token_at = 0.0
        super().__init__(endpoints=endpoints, timeout=timeout, failover=len(endpoints) > 1)
        if username:
            self.authenticate()

    def authenticate(self) -> None:
        req = pyetcd.etcdrpc.AuthenticateRequest(name=self._username, password=self._password)
        self._token = self.authstub.Authenticate(req, self.timeout).token
        self._token_at = time.monotonic()

    @property
    def metadata(self) -> tuple[tuple[str, str], ...] | None:
        if self._username and time.monotonic() - self._token_at > TOKEN_REFRESH:
            self.authenticate()
        md = self._extra + ((("token", self._token),) if self._token else ())
        return md or None

    @metadata.setter
    def metadata(self, _value: object) -> None:
        """pyetcd's constructor assigns None here; the token lives in `_token`."""


def connect(
    spec: ConnSpec, only: int | None = None, extra_metadata: tuple[tuple[str, str], ...] = ()
) -> Client:
    """A client for every endpoint (pyetcd fails over), or for endpoint number `only`."""
    options: list[tuple[str, str | int]] = list(GRPC_OPTIONS)
    if spec.server_name:
        options.append(("grpc.ssl_target_name_override", spec.server_name))
    creds = channel_credentials(spec) if spec.secure else None
    chosen = spec.endpoints if only is None else (spec.endpoints[only % len(spec.endpoints)],)
    endpoints = [
        pyetcd.Endpoint(e.host, e.port, secure=spec.secure, creds=creds, time_retry=2.0, opts=options)
        for e in chosen
    ]
    return Client(endpoints, spec.timeout, spec.username, spec.password, extra_metadata)


def describe(err: BaseException) -> str:
    """One line for a connection error: the gRPC status and etcd's own words when there are some."""
    if isinstance(err, grpc.RpcError) and hasattr(err, "code"):
        details = (err.details() or "").replace("\n", " ")
        return f"{err.code().name}: {details}"
    return f"{type(err).__name__}: {err}".replace("\n", " ")
