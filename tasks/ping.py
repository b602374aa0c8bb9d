"""Operational tasks: a liveness round-trip through the broker and a worker."""

from __future__ import annotations

import os
import socket
import time

from tasks.app import app


@app.task(name="extdns.ping", ignore_result=False)  # type: ignore[untyped-decorator]
def ping(token: str) -> dict[str, object]:
    """Answer with the token, the worker's host and PID, proving a worker consumed the message."""
    return {"token": token, "hostname": socket.gethostname(), "pid": os.getpid(), "time": time.time()}
