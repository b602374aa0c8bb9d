"""etcd TLS and user/password auth as CoreDNS's etcd plugin and ExternalDNS take them, against real etcds."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import pytest

from adapters.etcd_client import EtcdSettings, connect
from dnsserver import corefile
from dnsserver.app import App, running
from tests import etcd_tls
from tests.etcd_tls import Pki

pytestmark = pytest.mark.integration

USER, PASSWORD = "dns", "dns-secret"
RECORD = '{"host":"10.20.0.1"}'


def ask(port: int, name: str) -> dns.message.Message:
    return dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1", port=port, timeout=3)


def addresses(m: dns.message.Message) -> list[str]:
    return sorted(r.address for rrset in m.answer for r in rrset if rrset.rdtype == 1)


def wait_for(probe: object, timeout: float = 10.0) -> None:
    assert callable(probe)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached")


def corefile_for(prefix: str, *lines: str) -> list[corefile.ServerBlock]:
    body = "\n".join(f"  {line}" for line in (f"path {prefix}", *lines))
    return corefile.parse(f". {{\n ready 127.0.0.1:0\n etcd {{\n{body}\n }}\n}}\n", 0)


def serves(app: App, name: str = "www.example.org") -> bool:
    return addresses(ask(app.ports[0], name)) == ["10.20.0.1"]


def one_store(app: App) -> object:
    (store,) = app.stores.values()
    return store


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return etcd_tls.make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A second, unrelated CA: its ca.crt is the wrong CA for the etcds above."""
    return etcd_tls.make_pki(tmp_path_factory.mktemp("other-pki"))


@pytest.fixture(scope="module")
def mtls_url(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[str]:
    with etcd_tls.tls_etcd(tmp_path_factory.mktemp("mtls"), pki, client_cert_auth=True) as url:
        yield url


@pytest.fixture(scope="module")
def tls_url(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[str]:
    with etcd_tls.tls_etcd(tmp_path_factory.mktemp("tls"), pki, client_cert_auth=False) as url:
        yield url


@pytest.fixture(scope="module")
def auth_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with etcd_tls.auth_etcd(tmp_path_factory.mktemp("auth"), USER, PASSWORD, "/") as url:
        yield url


@pytest.fixture
def prefix() -> str:
    return f"/skydns-{uuid.uuid4().hex[:10]}"


def put_tls(url: str, pki: Pki, prefix: str) -> None:
    c = etcd_tls.tls_client(url, pki)
    c.put(f"{prefix}/org/example/www/a", RECORD)
    c.close()


# ---------------------------------------------------------------- dnsserver


def test_tls_cert_key_ca_against_client_cert_auth(mtls_url: str, pki: Pki, prefix: str) -> None:
    put_tls(mtls_url, pki, prefix)
    blocks = corefile_for(prefix, f"endpoint {mtls_url}", f"tls {pki.client_cert} {pki.client_key} {pki.ca}")
    with running(blocks) as app:
        wait_for(lambda: serves(app))


def test_tls_ca_only_with_https_endpoint(tls_url: str, pki: Pki, prefix: str) -> None:
    put_tls(tls_url, pki, prefix)
    with running(corefile_for(prefix, f"endpoint {tls_url}", f"tls {pki.ca}")) as app:
        wait_for(lambda: serves(app))


@pytest.mark.parametrize(
    "tls_line",
    [
        pytest.param(("tls",), id="tls-without-arguments"),
        pytest.param((), id="https-endpoint-without-tls-line"),
    ],
)
def test_the_system_cas_verify_a_tls_line_without_ca_and_a_bare_https_endpoint(
    tls_url: str, pki: Pki, prefix: str, monkeypatch: pytest.MonkeyPatch, tls_line: tuple[str, ...]
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", pki.ca)  # the "system" trust store, as Go reads it
    put_tls(tls_url, pki, prefix)
    with running(corefile_for(prefix, f"endpoint {tls_url}", *tls_line)) as app:
        wait_for(lambda: serves(app))


def test_tls_cert_key_with_system_cas(
    mtls_url: str, pki: Pki, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", pki.ca)
    put_tls(mtls_url, pki, prefix)
    with running(
        corefile_for(prefix, f"endpoint {mtls_url}", f"tls {pki.client_cert} {pki.client_key}")
    ) as app:
        wait_for(lambda: serves(app))


def test_wrong_ca_stays_not_ready_and_says_why(
    mtls_url: str, pki: Pki, other_pki: Pki, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    put_tls(mtls_url, pki, prefix)
    tls = f"tls {pki.client_cert} {pki.client_key} {other_pki.ca}"
    with (
        caplog.at_level(logging.WARNING, "dnsserver"),
        running(corefile_for(prefix, f"endpoint {mtls_url}", tls)) as app,
    ):
        time.sleep(3)
        store = one_store(app)
        assert not store.loaded  # type: ignore[attr-defined]
        assert ask(app.ports[0], "www.example.org").rcode() == dns.rcode.SERVFAIL
    text = caplog.text.lower()
    assert "certificate" in text or "ssl" in text or "handshake" in text, caplog.text


def test_client_cert_auth_without_a_cert_is_not_served(mtls_url: str, pki: Pki, prefix: str) -> None:
    put_tls(mtls_url, pki, prefix)
    with running(corefile_for(prefix, f"endpoint {mtls_url}", f"tls {pki.ca}")) as app:
        time.sleep(3)
        assert not one_store(app).loaded  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("lines", "named"),
    [
        (["endpoint https://127.0.0.1:1", "tls /nonexistent/ca.crt"], "/nonexistent/ca.crt"),
        (["endpoint https://127.0.0.1:1", "tls /nonexistent/c.crt /nonexistent/c.key"], "/nonexistent/c.crt"),
        (["tls"], "tls"),  # the default endpoint is http://localhost:2379: TLS would be dropped
        (["endpoint https://127.0.0.1:1 http://127.0.0.1:2"], "endpoint"),
        (["endpoint http://127.0.0.1:1", "tls"], "tls"),
    ],
)
def test_a_setting_that_cannot_be_honoured_stops_startup(lines: list[str], named: str, prefix: str) -> None:
    with pytest.raises(corefile.CorefileError) as err, running(corefile_for(prefix, *lines)):
        pass
    msg = str(err.value)
    assert named in msg and "\n" not in msg and msg.startswith("etcd")


def test_unreadable_key_file_stops_startup(pki: Pki, tmp_path: Path, prefix: str) -> None:
    garbage = tmp_path / "key.pem"
    garbage.write_text("not a key\n")
    lines = ["endpoint https://127.0.0.1:1", f"tls {pki.client_cert} {garbage} {pki.ca}"]
    with pytest.raises(corefile.CorefileError, match="key"), running(corefile_for(prefix, *lines)):
        pass


def test_credentials_against_an_auth_enabled_etcd(auth_url: str, prefix: str) -> None:
    writer = connect(
        EtcdSettings.from_env({"ETCD_URLS": auth_url, "ETCD_USERNAME": USER, "ETCD_PASSWORD": PASSWORD})
    )
    writer.put(f"{prefix}/org/example/www/a", RECORD)
    with running(corefile_for(prefix, f"endpoint {auth_url}", f"credentials {USER} {PASSWORD}")) as app:
        wait_for(lambda: serves(app))
        writer.put(f"{prefix}/org/example/new/a", RECORD)  # the watch is authorised too
        wait_for(lambda: serves(app, "new.example.org"))
    writer.close()


def test_wrong_credentials_are_reported(auth_url: str, prefix: str, caplog: pytest.LogCaptureFixture) -> None:
    lines = [f"endpoint {auth_url}", f"credentials {USER} wrong-password"]
    with caplog.at_level(logging.WARNING, "dnsserver"), running(corefile_for(prefix, *lines)) as app:
        time.sleep(2)
        assert not one_store(app).loaded  # type: ignore[attr-defined]
    assert "authentication failed" in caplog.text, caplog.text


# ---------------------------------------------------------------- controller (ExternalDNS's ETCD_* variables)


def test_controller_client_with_client_certificates(mtls_url: str, pki: Pki, prefix: str) -> None:
    env = {
        "ETCD_URLS": mtls_url,
        "ETCD_CA_FILE": pki.ca,
        "ETCD_CERT_FILE": pki.client_cert,
        "ETCD_KEY_FILE": pki.client_key,
    }
    client = connect(EtcdSettings.from_env(env))
    client.put(f"{prefix}/k", "v")
    assert client.get(f"{prefix}/k")[0] == b"v"
    client.close()


def test_controller_client_without_client_certificate_is_refused(
    mtls_url: str, pki: Pki, prefix: str
) -> None:
    client = connect(EtcdSettings.from_env({"ETCD_URLS": mtls_url, "ETCD_CA_FILE": pki.ca}))
    with pytest.raises(Exception):  # noqa: B017 - any refusal; never a silent plaintext success
        client.put(f"{prefix}/k", "v")
    client.close()


def test_controller_client_with_username_and_password(auth_url: str, prefix: str) -> None:
    env = {"ETCD_URLS": auth_url, "ETCD_USERNAME": USER, "ETCD_PASSWORD": PASSWORD}
    client = connect(EtcdSettings.from_env(env))
    client.put(f"{prefix}/k", "v")
    assert client.get(f"{prefix}/k")[0] == b"v"
    client.close()


def test_controller_client_with_wrong_password_fails_clearly(auth_url: str) -> None:
    env = {"ETCD_URLS": auth_url, "ETCD_USERNAME": USER, "ETCD_PASSWORD": "nope"}
    with pytest.raises(Exception, match="authentication failed"):
        client = connect(EtcdSettings.from_env(env))
        client.get("/x")
