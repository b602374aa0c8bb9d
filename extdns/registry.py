"""The ExternalDNS TXT registry codec: ownership label text and the TXT record names that carry it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from extdns.endpoint import StrMap

HERITAGE = "external-dns"
LABEL_KEY_PREFIX = "external-dns/"
RECORD_TYPE_TEMPLATE = "%{record_type}"
# Record types whose ownership TXT names carry a "<type>-" marker (new format).
TYPED_RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "NAPTR", "NS", "PTR", "SRV", "TXT")
# The old format (one untyped TXT at the record's own name) never covered AAAA.
OLD_FORMAT = ""
# The label ExternalDNS keeps the nonce of an encrypted text in; never part of the plain text.
ENCRYPTION_NONCE_LABEL = "txt-encryption-nonce"


def format_labels(labels: Mapping[str, str]) -> str:
    """Serialise labels as ExternalDNS stores them: quoted, heritage first, then every key sorted."""
    keys = sorted(key for key in labels if key != ENCRYPTION_NONCE_LABEL)
    tokens = [f"heritage={HERITAGE}", *(f"{LABEL_KEY_PREFIX}{key}={labels[key]}" for key in keys)]
    return '"' + ",".join(tokens) + '"'


def storable_label(key: str, value: str) -> bool:
    """Tell whether a label reads back as itself from ownership text (no ',' in it, no '=' in its key)."""
    return parse_labels(format_labels({key: value})) == {key: value}


def parse_labels(text: str) -> StrMap | None:
    """Parse ownership text; None when it is not ExternalDNS's (no heritage, or a foreign heritage first).

    Tokens without '=' and keys outside ``external-dns/`` are ignored, as upstream does.
    """
    labels: dict[str, str] = {}
    heritage_seen = False
    for token in text.strip('"').split(","):
        key, equals, value = token.partition("=")
        if not equals:
            continue
        if key == "heritage":
            if heritage_seen:
                continue
            if value != HERITAGE:
                return None
            heritage_seen = True
        elif key.startswith(LABEL_KEY_PREFIX):
            labels[key.removeprefix(LABEL_KEY_PREFIX)] = value
    return StrMap(labels) if heritage_seen else None


@dataclass(frozen=True)
class TxtMapper:
    """Maps record names to ownership TXT names and back (--txt-prefix, --txt-suffix, wildcard replacement).

    New format: ``<prefix><type>-<first label><suffix>.<rest>``; the ``<type>-`` marker is left out when
    ``%{record_type}`` appears in the prefix or suffix, which is then replaced by the lower-case type.
    The old (untyped) format is the same mapping with record type ``""``.
    """

    prefix: str = ""
    suffix: str = ""
    wildcard_replacement: str = ""
    _affix_cache: dict[str, tuple[str, str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.prefix and self.suffix:
            raise ValueError("--txt-prefix and --txt-suffix are mutually exclusive")
        object.__setattr__(self, "prefix", self.prefix.lower())
        object.__setattr__(self, "suffix", self.suffix.lower())
        object.__setattr__(self, "wildcard_replacement", self.wildcard_replacement.lower())
        known = (*TYPED_RECORD_TYPES, OLD_FORMAT)
        object.__setattr__(self, "_affix_cache", {kind: self._compute_affixes(kind) for kind in known})

    def txt_name(self, name: str, record_type: str) -> str:
        """Return the name of the TXT record holding the ownership of (name, record_type)."""
        first, dot, rest = name.partition(".")
        if self.wildcard_replacement and first == "*":
            first = self.wildcard_replacement
        head, tail = self._affixes(record_type)
        return f"{head}{first}{tail}{dot}{rest}"

    def owners_of(self, txt_name: str) -> tuple[tuple[str, str], ...]:
        """Return the (name, record type) pairs a TXT name can hold ownership for.

        The first record type whose marker fits wins, the old format (type "") last. Two pairs come back
        only when the first label equals the wildcard replacement (it may stand for "*" or for itself).
        """
        for record_type in (*TYPED_RECORD_TYPES, OLD_FORMAT):
            names = self._names_for(txt_name, record_type)
            if names:
                return tuple((name, record_type) for name in names)
        return ()

    def _affixes(self, record_type: str) -> tuple[str, str]:
        cached = self._affix_cache.get(record_type)
        return cached if cached is not None else self._compute_affixes(record_type)

    def _compute_affixes(self, record_type: str) -> tuple[str, str]:
        kind = record_type.lower()
        templated = RECORD_TYPE_TEMPLATE in self.prefix or RECORD_TYPE_TEMPLATE in self.suffix
        marker = f"{kind}-" if kind and not templated else ""
        head = self.prefix.replace(RECORD_TYPE_TEMPLATE, kind) + marker
        return head, self.suffix.replace(RECORD_TYPE_TEMPLATE, kind)

    def _names_for(self, txt_name: str, record_type: str) -> tuple[str, ...]:
        head, tail = self._affixes(record_type)
        if not txt_name.startswith(head):
            return ()
        body = txt_name[len(head) :]
        # The first label ends where the tail does, right before a dot or the end of the name.
        for stop in _dots_then_end(body):
            end = stop - len(tail)
            if end >= 1 and "." in body[:end]:
                break
            if end < 1 or body[end:stop] != tail:
                continue
            first, remainder = body[:end], body[stop:]
            candidates = [first + remainder]
            if self.wildcard_replacement and first == self.wildcard_replacement:
                candidates.append("*" + remainder)
            return tuple(name for name in candidates if self.txt_name(name, record_type) == txt_name)
        return ()


def _dots_then_end(text: str) -> Iterator[int]:
    """Yield the index of every dot in text, then len(text)."""
    stop = text.find(".")
    while stop != -1:
        yield stop
        stop = text.find(".", stop + 1)
    yield len(text)
