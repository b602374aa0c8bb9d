"""The SkyDNS schema CoreDNS's etcd plugin reads: name <-> key mapping and msg.Service record JSON."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any

from extdns.addresses import address_type

DEFAULT_PREFIX = "/skydns"
SUFFIX_LENGTH = 8

_INT64 = (-(2**63), 2**63 - 1)
_UINT32 = (0, 2**32 - 1)
_INT_RANGES = {"port": _INT64, "priority": _INT64, "weight": _INT64, "ttl": _UINT32, "targetstrip": _INT64}
# Go escapes these even with SetEscapeHTML off for U+2028/9; encoding/json's default escapes all five.
_GO_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


@dataclass(frozen=True, slots=True)
class Service:
    """CoreDNS msg.Service as stored in etcd, plus the `owner` field of ExternalDNS's strictly-owned mode.

    Values are kept as stored: CoreDNS's serving defaults (priority 0 -> 10, ttl 0 -> 300) are the
    server's business.
    """

    host: str = ""
    port: int = 0
    priority: int = 0
    weight: int = 0
    text: str = ""
    mail: bool = False
    ttl: int = 0
    targetstrip: int = 0
    group: str = ""
    owner: str = ""


_FIELD_TYPES = {field.name: field.type for field in fields(Service)}


@dataclass(frozen=True)
class DecodeError:
    """Why an etcd value is not a usable msg.Service."""

    reason: str


@lru_cache(maxsize=64)
def normalize_prefix(prefix: str) -> str:
    """Return the etcd path prefix as "/a/b" (CoreDNS accepts "skydns", "/skydns", "/skydns/")."""
    parts = [part for part in prefix.split("/") if part]
    if not parts:
        raise ValueError(f"etcd path prefix {prefix!r} is empty")
    return "/" + "/".join(parts)


def name_to_key(name: str, prefix: str = DEFAULT_PREFIX) -> str:
    """Map a DNS name to its etcd key: the prefix, then the labels reversed, lower-case."""
    labels = [label for label in name.lower().removesuffix(".").split(".") if label]
    return "/".join([normalize_prefix(prefix), *reversed(labels)])


def key_to_name(key: str, prefix: str = DEFAULT_PREFIX) -> str | None:
    """Map an etcd key back to the DNS name it spells (no trailing dot), or None if it is not under prefix."""
    root = normalize_prefix(prefix) + "/"
    if not key.startswith(root):
        return None
    rest = key[len(root) :].removesuffix("/")
    if not rest:
        return None
    return ".".join(reversed(rest.split("/")))


def target_suffix(record_type: str, target: str) -> str:
    """Return the deterministic key label for one target: 8 hex chars of sha256(type, target)."""
    digest = hashlib.sha256(f"{record_type}\n{target}".encode()).hexdigest()
    return digest[:SUFFIX_LENGTH]


def host_type(service: Service) -> str:
    """Classify a value as CoreDNS does: IPv4 -> A, IPv6 -> AAAA, name -> CNAME, name with text -> TXT."""
    kind = address_type(service.host)
    if kind is not None:
        return kind
    return "TXT" if service.text else "CNAME"


def encode_service(service: Service) -> bytes:
    """Encode as Go's encoding/json does: struct field order, empty fields omitted, compact."""
    present = {field.name: getattr(service, field.name) for field in fields(Service)}
    text = json.dumps(
        {key: value for key, value in present.items() if value}, ensure_ascii=False, separators=(",", ":")
    )
    for char, escape in _GO_ESCAPES:
        text = text.replace(char, escape)
    return text.encode()


class _Pairs(list[tuple[str, Any]]):
    """A decoded JSON object as its key/value pairs in document order."""


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


# What json.loads(text, object_pairs_hook=..., parse_constant=...) builds on every call, built once.
_DECODER = json.JSONDecoder(object_pairs_hook=_Pairs, parse_constant=_reject_constant)


def _loads(text: str) -> Any:
    """json.loads(text) with the decoder above."""
    if text.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _DECODER.decode(text)


def decode_service(raw: bytes) -> Service | DecodeError:
    """Decode an etcd value with Go's encoding/json rules, returning DecodeError instead of raising.

    Field names match case-insensitively, the last duplicate wins, unknown fields and nulls are
    ignored, and a value of the wrong JSON type is an error.
    """
    try:
        document = _loads(raw.decode("utf-8", "replace"))
    except (ValueError, RecursionError) as exc:
        return DecodeError(f"invalid JSON: {exc}")
    if not isinstance(document, _Pairs):
        return DecodeError(f"value is a JSON {_json_type(document)}, not an object")
    values: dict[str, Any] = {}
    for key, value in document:
        name = key.lower()
        if name not in _FIELD_TYPES or value is None:
            continue
        problem = _field_problem(name, value)
        if problem is not None:
            return DecodeError(f"field {key!r}: {problem}")
        values[name] = value
    return Service(**values)


def _field_problem(name: str, value: object) -> str | None:
    wanted = _FIELD_TYPES[name]
    if wanted == "str":
        return None if isinstance(value, str) else f"expected a string, got a JSON {_json_type(value)}"
    if wanted == "bool":
        return None if isinstance(value, bool) else f"expected a boolean, got a JSON {_json_type(value)}"
    if not isinstance(value, int) or isinstance(value, bool):
        return f"expected an integer, got a JSON {_json_type(value)} {value!r}"
    low, high = _INT_RANGES[name]
    return None if low <= value <= high else f"{value} is out of range {low}..{high}"


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, _Pairs):
        return "object"
    return "array"
