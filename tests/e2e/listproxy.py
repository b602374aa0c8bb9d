"""A plain-HTTP proxy in front of the real kube-apiserver that holds chosen LIST responses for a while.

A large cluster's LIST takes seconds; the proxy makes a small one do the same, deterministically:
the request goes upstream at once (the answer is the cluster as it is *now*), and the answer is
handed back only after `delay` seconds. `answered` is set when an upstream answer is being held,
so a test can change the cluster knowing the client's view is already older than the change.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tools import testenv


def is_list(method: str, path: str, kind_plural: str) -> bool:
    """A LIST (not a watch, not a GET of one object) of `kind_plural`."""
    url = urlsplit(path)
    query = parse_qs(url.query)
    return method == "GET" and url.path.endswith(f"/{kind_plural}") and query.get("watch") != ["true"]


class ListProxy:
    """Forwards every request to the API server with the admin client certificate; holds matching LISTs."""

    def __init__(self, upstream_kubeconfig: Path, delay: float, hold: Callable[[str, str], bool]) -> None:
        cfg = json.loads(upstream_kubeconfig.read_text())
        server = urlsplit(cfg["clusters"][0]["cluster"]["server"])
        pki = upstream_kubeconfig.parent / "pki"
        self.host, self.port = server.hostname or "127.0.0.1", server.port or 443
        self.ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        self.ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        self.delay = delay
        self.hold = hold
        self.answered = threading.Event()  # an upstream answer is being held right now (or was)
        self.held = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", testenv.free_port()), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def kubeconfig(self, path: Path) -> Path:
        """A kubeconfig that reaches the API server through this proxy (no auth: the proxy adds it)."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "slow", "cluster": {"server": self.url}}],
            "users": [{"name": "anon", "user": {}}],
            "contexts": [{"name": "slow", "context": {"cluster": "slow", "user": "anon"}}],
            "current-context": "slow",
        }
        path.write_text(json.dumps(config))
        return path

    def __enter__(self) -> ListProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in {"host", "connection"}}
                conn = http.client.HTTPSConnection(proxy.host, proxy.port, context=proxy.ctx, timeout=60)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                finally:
                    conn.close()
                if proxy.hold(self.command, self.path):
                    proxy.held += 1
                    proxy.answered.set()
                    time.sleep(proxy.delay)
                self.send_response(resp.status, resp.reason)
                for k, v in resp.getheaders():
                    if k.lower() not in {"transfer-encoding", "connection", "content-length"}:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        return Handler
