"""Logging in ExternalDNS's shapes: logrus text (`time=... level=info msg="..."`) or JSON lines."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import MutableMapping
from typing import Any

import structlog

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR, "fatal": logging.CRITICAL, "panic": logging.CRITICAL}  # fmt: skip


def _quote(value: object) -> str:
    text = str(value)
    if text and all(c.isalnum() or c in "-_./:@" for c in text):
        return text
    return json.dumps(text)


def _text(_: Any, method: str, event: MutableMapping[str, Any]) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    level = event.pop("level", method)
    msg = event.pop("event", "")
    extra = "".join(f" {k}={_quote(v)}" for k, v in sorted(event.items()))
    return f"time={json.dumps(stamp)} level={level} msg={json.dumps(str(msg))}{extra}"


def _json(_: Any, method: str, event: MutableMapping[str, Any]) -> str:
    out = {"level": event.pop("level", method), "msg": str(event.pop("event", "")),
           "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}  # fmt: skip
    out.update({k: v if isinstance(v, int | float | bool) else str(v) for k, v in event.items()})
    return json.dumps(out)


def configure(level: str = "info", fmt: str = "text") -> None:
    """Set up structlog for this process: one line per event on stderr."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            _json if fmt == "json" else _text,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS.get(level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )


log = structlog.get_logger("extdns")
