"""IP address parsing with Go's net.ParseIP rules, as CoreDNS and ExternalDNS classify hosts."""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# Dotted-quad IPv4 exactly as str(IPv4Address) prints it: parses as A and is its own canonical form.
_CANONICAL_IPV4 = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}\Z")


@lru_cache(maxsize=65536)
def parse_ip(text: str) -> IPAddress | None:
    """Parse an IP the way Go does: no zone ids, no surrounding spaces, no leading-zero octets."""
    if "%" in text or text.strip() != text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def is_canonical_ipv4(text: str) -> bool:
    """Tell, without parsing, whether text is an IPv4 address in the form str(IPv4Address) prints."""
    return _CANONICAL_IPV4.match(text) is not None


def address_type(text: str) -> str | None:
    """Return "A" for IPv4 (and IPv4-mapped IPv6), "AAAA" for other IPv6, None for anything else."""
    if is_canonical_ipv4(text):
        return "A"
    ip = parse_ip(text)
    if ip is None:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return "AAAA"
    return "A"


def canonical_address(text: str) -> str:
    """Return the canonical text of an IP (IPv4-mapped IPv6 as dotted IPv4), or the input if it is no IP."""
    if is_canonical_ipv4(text):
        return text
    ip = parse_ip(text)
    if ip is None:
        return text
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def address_order(text: str) -> tuple[int, int, int, str]:
    """Sort key putting IPs first in numeric order (IPv4 before IPv6), then names in string order."""
    ip = parse_ip(text)
    if ip is None:
        return (1, 0, 0, text)
    return (0, ip.version, int(ip), "")
