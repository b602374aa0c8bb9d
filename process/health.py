"""The metrics address of a controller process: `/healthz` and `/metrics`, as ExternalDNS serves them."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from process.logs import log


def registry() -> CollectorRegistry:
    """This process's metrics, or every worker process's when PROMETHEUS_MULTIPROC_DIR is set (prefork)."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged)
    return merged


# Named liveness checks: each returns None when healthy, else one line saying what is wrong.
CHECKS: dict[str, Callable[[], str | None]] = {}


def problems() -> list[str]:
    return [p for check in list(CHECKS.values()) if (p := check())]


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 200
        if self.path.startswith("/metrics"):
            body, ctype = generate_latest(registry()), CONTENT_TYPE_LATEST
        elif self.path.startswith("/healthz"):
            wrong = problems()
            status = 503 if wrong else 200
            body, ctype = ("\n".join(wrong) if wrong else "OK").encode(), "text/plain"
        else:
            self.send_error(404)
            return
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


def serve(address: str) -> ThreadingHTTPServer | None:
    """Serve on `host:port` (`:7979` = every interface) in a daemon thread; empty address = off."""
    if not address:
        return None
    host, _, port = address.rpartition(":")
    try:
        server = ThreadingHTTPServer((host or "0.0.0.0", int(port)), _Handler)
    except (OSError, ValueError) as e:
        log.error(f"--metrics-address {address}: cannot serve metrics: {e}")
        return None
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server
