"""Gateway API matching rules: listener/route hostname intersection (wildcards) and listener protocols."""

from __future__ import annotations

import re

from extdns.addresses import address_type

__all__ = ["gateway_host", "is_dns1123_domain", "matching_host", "protocol_matches"]

_LABEL = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?")
_MAX_DOMAIN = 255
_WILDCARD = "*."
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def is_dns1123_domain(text: str) -> bool:
    """An RFC 1123 domain: at most 255 chars; labels of letters, digits, inner dashes; one final dot ok."""
    if not 0 < len(text) <= _MAX_DOMAIN:
        return False
    labels = text.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()
    return all(_LABEL.fullmatch(label) for label in labels)


def gateway_host(host: str) -> str | None:
    """The host lower-cased (ASCII only), "" for none, or None when it is an IP or not a (wildcard) domain."""
    if not host:
        return ""
    if address_type(host) is not None or not is_dns1123_domain(host.removeprefix(_WILDCARD)):
        return None
    return host.translate(_ASCII_LOWER)


def matching_host(listener: str, route: str) -> str | None:
    """The most specific host both accept, or None; "" accepts anything, `*.d` any name below `d`."""
    a, b = gateway_host(listener), gateway_host(route)
    if a is None or b is None:
        return None
    if not a:
        return b
    if not b or a == b:
        return a
    if len(b) < len(a) or (len(a) == len(b) and b.startswith(_WILDCARD)):
        a, b = b, a
    if a.startswith(_WILDCARD) and b.endswith(a[1:]):
        return b
    return None


def protocol_matches(route: str, listener: str) -> bool:
    """Whether a route of protocol `route` may attach to a listener of protocol `listener`.

    HTTP and HTTPS count as one; a TCP route also attaches to a TLS listener (not the reverse).
    """
    route, listener = _http(route), _http(listener)
    if route == "TCP" and listener == "TLS":
        return True
    return route == listener


def _http(protocol: str) -> str:
    return "HTTP" if protocol == "HTTPS" else protocol
