"""IP address parsing with Go's net.ParseIP rules, as CoreDNS and ExternalDNS classify hosts."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=65536)
def parse_ip(text: str) -> IPAddress | None:
    """Parse an IP the way Go does: no zone ids, no surrounding spaces, no leading-zero octets."""
    if "%" in text or text.strip() != text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def address_type(text: str) -> str | None:
    """Return "A" for IPv4 (and IPv4-mapped IPv6), "AAAA" for other IPv6, None for anything else."""
    ip = parse_ip(text)
    if ip is None:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return "AAAA"
    return "A"


def canonical_address(text: str) -> str:
    """Return the canonical text of an IP (IPv4-mapped IPv6 as dotted IPv4), or the input if it is no IP."""
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
