"""DNS name normalisation and validation: lower-case, no trailing dot, IDN as punycode, RFC length limits."""

from __future__ import annotations

import re
from encodings import idna

MAX_LABEL_LENGTH = 63
MAX_NAME_LENGTH = 253
REVERSE_ZONES = ("in-addr.arpa", "ip6.arpa")
_REVERSE_SUFFIXES = tuple("." + zone for zone in REVERSE_ZONES)

_LABEL_CHARS = re.compile(r"[a-z0-9_-]+\Z")
_KEY_LABEL_CHARS = re.compile(r"[!-~]+\Z")
# Fast paths: names already in canonical form, so the label-by-label checks below cannot object.
_CANONICAL_NAME = re.compile(r"(?:\*\.)?[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*\Z")
_PLAIN_KEY_NAME = re.compile(r"[a-z0-9_*-]{1,63}(?:\.[a-z0-9_*-]{1,63})*\Z")


class InvalidName(ValueError):
    """A hostname that cannot be published; the message names the hostname and the reason."""


def normalize_name(text: str) -> str:
    """Return the canonical form of a hostname, or raise InvalidName naming the culprit.

    Lower-cases, strips surrounding spaces and one trailing dot, converts IDN labels to punycode.
    Labels hold a-z, 0-9, '-' and '_' (SRV/TXT-style names); a leading '*' label is allowed.
    """
    if len(text) <= MAX_NAME_LENGTH and _CANONICAL_NAME.match(text):
        return text
    return _normalize_name(text)


def _normalize_name(text: str) -> str:
    name = text.strip().removesuffix(".")
    if not name:
        raise InvalidName(f"hostname {text!r} is empty")
    labels = [_normalize_label(label, index, text) for index, label in enumerate(name.split("."))]
    result = ".".join(labels)
    if len(result) > MAX_NAME_LENGTH:
        raise InvalidName(f"hostname {text!r} is longer than {MAX_NAME_LENGTH} characters")
    return result


def _normalize_label(label: str, index: int, original: str) -> str:
    if not label:
        raise InvalidName(f"hostname {original!r} has an empty label")
    if label == "*":
        if index == 0:
            return label
        raise InvalidName(f"hostname {original!r} has '*' in a label other than the first")
    if not label.isascii():
        try:
            label = idna.ToASCII(label).decode("ascii")
        except UnicodeError as exc:
            raise InvalidName(f"label {label!r} of hostname {original!r} is not valid IDN: {exc}") from exc
    label = label.lower()
    if len(label) > MAX_LABEL_LENGTH:
        raise InvalidName(
            f"label {label!r} of hostname {original!r} is longer than {MAX_LABEL_LENGTH} characters"
        )
    if not _LABEL_CHARS.match(label):
        raise InvalidName(f"label {label!r} of hostname {original!r} has characters outside a-z 0-9 - _")
    return label


def name_problem(name: str) -> str | None:
    """Say why a name read from an etcd key or built for a TXT record is unusable, or None if it is fine.

    More lenient than normalize_name (ExternalDNS writes labels such as ``a-*``), but CoreDNS only ever
    looks up lower-case ASCII names, so anything else could never be served.
    """
    if len(name) <= MAX_NAME_LENGTH and _PLAIN_KEY_NAME.match(name):
        return None
    return _name_problem(name)


def _name_problem(name: str) -> str | None:
    labels = name.split(".")
    if any(not label for label in labels):
        return f"name {name!r} has an empty label"
    for label in labels:
        if len(label) > MAX_LABEL_LENGTH:
            return f"label {label!r} of {name!r} is longer than {MAX_LABEL_LENGTH} characters"
        if not _KEY_LABEL_CHARS.match(label):
            return f"label {label!r} of {name!r} is not printable ASCII"
        if label != label.lower():
            return f"label {label!r} of {name!r} is not lower-case"
    if len(name) > MAX_NAME_LENGTH:
        return f"name {name!r} is longer than {MAX_NAME_LENGTH} characters"
    return None


def is_reverse_name(name: str) -> bool:
    """Tell whether a name lies in a reverse-DNS zone (in-addr.arpa or ip6.arpa)."""
    return name in REVERSE_ZONES or name.endswith(_REVERSE_SUFFIXES)
