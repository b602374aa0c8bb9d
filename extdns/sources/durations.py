"""Go duration and TTL parsing (`1m30s`, `10s`, `300`), exactly as ExternalDNS reads its `ttl` annotation."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

__all__ = ["TTL_MAX", "TTL_MIN", "parse_go_duration", "parse_ttl"]

TTL_MIN = 1
TTL_MAX = 2**31 - 1

_NANOS_PER_UNIT: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # greek small letter mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}
_COMPONENT = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]+)")
_INT = re.compile(r"[+-]?[0-9]+")
_INT64_MAX = 2**63 - 1


def parse_go_duration(text: str) -> int:
    """Parse a Go `time.ParseDuration` string into whole nanoseconds; raise ValueError when invalid."""
    rest, sign = _split_sign(text)
    if rest == "0":
        return 0
    if not rest:
        raise ValueError(f"invalid duration {text!r}")
    total = Decimal(0)
    pos = 0
    while pos < len(rest):
        match = _COMPONENT.match(rest, pos)
        if match is None or not (match.group(1) or match.group(2)):
            raise ValueError(f"invalid duration {text!r}")
        unit = _NANOS_PER_UNIT.get(match.group(3))
        if unit is None:
            raise ValueError(f"unknown unit {match.group(3)!r} in duration {text!r}")
        total += _decimal(match.group(1), match.group(2)) * unit
        pos = match.end()
    nanos = int(total)
    if nanos > _INT64_MAX:
        raise ValueError(f"invalid duration {text!r}: out of range")
    return sign * nanos


def parse_ttl(text: str) -> int:
    """Parse a TTL as a Go duration or an integer number of seconds; raise ValueError unless in 1..2^31-1."""
    try:
        seconds = _duration_seconds(text)
    except ValueError:
        if not _INT.fullmatch(text):
            raise
        seconds = int(text)
    if not TTL_MIN <= seconds <= TTL_MAX:
        raise ValueError(f"TTL {text!r} must be between {TTL_MIN} and {TTL_MAX} seconds")
    return seconds


def _duration_seconds(text: str) -> int:
    nanos = parse_go_duration(text)
    # Go truncates Duration.Seconds() towards zero when converting to an integer.
    return -(-nanos // 1_000_000_000) if nanos < 0 else nanos // 1_000_000_000


def _split_sign(text: str) -> tuple[str, int]:
    if text[:1] == "-":
        return text[1:], -1
    if text[:1] == "+":
        return text[1:], 1
    return text, 1


def _decimal(whole: str, fraction: str | None) -> Decimal:
    try:
        return Decimal(f"{whole or '0'}.{fraction or '0'}")
    except InvalidOperation as exc:  # pragma: no cover - the regex only lets digits through
        raise ValueError(str(exc)) from exc
