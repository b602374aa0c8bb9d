"""Test helpers: a real etcd serving TLS (optionally demanding client certificates) and one with auth on."""

from __future__ import annotations

import contextlib
import json
import ssl
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyetcd
from pyetcd import etcdrpc

from tools import testenv

ROOT_PASSWORD = "root-secret"


@dataclass(frozen=True)
class Pki:
    """Files made by testenv.make_pki: a CA, a 127.0.0.1 serving pair, a client pair."""

    dir: Path

    @property
    def ca(self) -> str:
        return str(self.dir / "ca.crt")

    @property
    def server_cert(self) -> str:
        return str(self.dir / "serving.crt")

    @property
    def server_key(self) -> str:
        return str(self.dir / "serving.key")

    @property
    def client_cert(self) -> str:
        return str(self.dir / "admin.crt")

    @property
    def client_key(self) -> str:
        return str(self.dir / "admin.key")


def make_pki(d: Path) -> Pki:
    testenv.make_pki(d)
    return Pki(d)


def _etcd_argv(workdir: Path, name: str, url: str, peer: str, extra: list[str]) -> list[str]:
    return [
        str(testenv.binary("etcd")),
        f"--name={name}",
        f"--data-dir={workdir / name}",
        f"--listen-client-urls={url}",
        f"--advertise-client-urls={url}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster={name}={peer}",
        "--log-level=warn",
        "--unsafe-no-fsync",
        *extra,
    ]


@contextlib.contextmanager
def tls_etcd(workdir: Path, pki: Pki, client_cert_auth: bool = True) -> Iterator[str]:
    """An etcd serving https:// on 127.0.0.1; with client_cert_auth it rejects clients without a cert."""
    url = f"https://127.0.0.1:{testenv.free_port()}"
    peer = f"http://127.0.0.1:{testenv.free_port()}"
    name = "etcd-tls-cca" if client_cert_auth else "etcd-tls"
    extra = [f"--cert-file={pki.server_cert}", f"--key-file={pki.server_key}"]
    if client_cert_auth:
        extra += ["--client-cert-auth", f"--trusted-ca-file={pki.ca}"]
    proc = testenv.Proc(name, _etcd_argv(workdir, name, url, peer, extra), workdir / f"{name}.log").start()
    ctx = ssl.create_default_context(cafile=pki.ca)
    if client_cert_auth:
        ctx.load_cert_chain(pki.client_cert, pki.client_key)

    def healthy() -> bool:
        with urllib.request.urlopen(f"{url}/health", timeout=1, context=ctx) as r:
            return bool(json.loads(r.read()).get("health") == "true")

    try:
        testenv.wait_until(name, proc, healthy, 30)
        yield url
    finally:
        proc.stop()


def tls_client(url: str, pki: Pki) -> pyetcd.Etcd3Client:
    """A direct pyetcd client with the client certificate (the test's own writer)."""
    host, port = url.removeprefix("https://").rsplit(":", 1)
    return pyetcd.client(
        host=host, port=int(port), ca_cert=pki.ca, cert_cert=pki.client_cert, cert_key=pki.client_key
    )


@contextlib.contextmanager
def auth_etcd(workdir: Path, user: str, password: str, prefix: str = "/") -> Iterator[str]:
    """A plain-http etcd with auth enabled: root plus `user`, who may read and write keys under prefix."""
    proc, url = testenv.start_etcd(workdir, "etcd-auth")
    try:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        admin = pyetcd.client(host=host, port=int(port), timeout=5)
        a = admin.authstub
        a.UserAdd(etcdrpc.AuthUserAddRequest(name="root", password=ROOT_PASSWORD), 5)
        a.UserGrantRole(etcdrpc.AuthUserGrantRoleRequest(user="root", role="root"), 5)
        a.RoleAdd(etcdrpc.AuthRoleAddRequest(name="dns"), 5)
        perm = etcdrpc.Permission(
            permType=etcdrpc.Permission.READWRITE,
            key=prefix.encode(),
            range_end=pyetcd.utils.prefix_range_end(prefix.encode()),
        )
        a.RoleGrantPermission(etcdrpc.AuthRoleGrantPermissionRequest(name="dns", perm=perm), 5)
        a.UserAdd(etcdrpc.AuthUserAddRequest(name=user, password=password), 5)
        a.UserGrantRole(etcdrpc.AuthUserGrantRoleRequest(user=user, role="dns"), 5)
        a.AuthEnable(etcdrpc.AuthEnableRequest(), 5)
        admin.close()
        yield url
    finally:
        proc.stop()
