"""Parse the Corefile subset this server accepts into typed server-block settings."""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field

DEFAULT_PORT = 53
DEFAULT_ENDPOINT = "http://localhost:2379"
KNOWN_DIRECTIVES = (
    "etcd",
    "cache",
    "log",
    "errors",
    "health",
    "ready",
    "prometheus",
    "bufsize",
    "any",
    "bind",
    "ratelimit",
)
DEFAULT_BUFSIZE = 1232  # DNS Flag Day 2020; CoreDNS's bufsize default
BUFSIZE_RANGE = (512, 4096)  # what CoreDNS's bufsize accepts


class CorefileError(ValueError):
    """A Corefile this server cannot run: the message names the offending directive or argument."""


@dataclass(frozen=True)
class EtcdConfig:
    """The `etcd` directive: zones served from records under `path` in the etcd at `endpoints`."""

    zones: tuple[str, ...]
    path: str = "/skydns"
    endpoints: tuple[str, ...] = (DEFAULT_ENDPOINT,)
    username: str = ""
    password: str = ""
    tls: tuple[str, ...] | None = None  # None: plain; else (CERT KEY CACERT) subset as in CoreDNS
    fallthrough: tuple[str, ...] | None = None  # None: off; (): every zone
    min_lease_ttl: int = 30
    max_lease_ttl: int = 86400


@dataclass(frozen=True)
class CacheConfig:
    """The `cache` directive: longest lifetime of a cached answer in seconds."""

    max_ttl: int = 3600
    denial_ttl: int = 1800
    capacity: int = 9984


@dataclass(frozen=True)
class RateLimitConfig:
    """The `ratelimit` directive: responses per second per client network, with BIND RRL's slip."""

    rate: int  # responses per second per client network
    window: int = 15  # seconds of credit a client may bank (BIND's `window`)
    slip: int = 2  # every Nth dropped reply goes out as a small TC reply (0: drop them all)
    ipv4_prefix: int = 24
    ipv6_prefix: int = 56


@dataclass(frozen=True)
class ServerBlock:
    """One server block: its zones, its port and the directives that apply to it."""

    zones: tuple[str, ...]
    port: int
    etcd: EtcdConfig | None = None
    cache: CacheConfig | None = None
    log: bool = False
    errors: bool = False
    health: str | None = None
    lameduck: int = 0  # seconds the server keeps answering after SIGTERM (`health { lameduck D }`)
    ready: str | None = None
    prometheus: str | None = None
    bufsize: int = DEFAULT_BUFSIZE
    bind: tuple[str, ...] = ()  # empty: every IPv4 and IPv6 address
    ratelimit: RateLimitConfig | None = None


@dataclass
class _Directive:
    name: str
    args: list[str]
    line: int
    block: list[_Directive] = field(default_factory=list)


_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|([{}])|([^\s{}"#]+)|(#[^\n]*)|(\n)')


def _tokens(text: str) -> list[tuple[str, int, bool]]:
    """Split into (token, line, is_newline) with quotes removed and comments dropped."""
    out: list[tuple[str, int, bool]] = []
    line = 1
    pos = 0
    while pos < len(text):
        ch = text[pos]
        if ch in " \t\r":
            pos += 1
            continue
        m = _TOKEN.match(text, pos)
        if m is None:
            raise CorefileError(f"Corefile:{line}: unterminated quote")
        pos = m.end()
        quoted, brace, word, comment, newline = m.groups()
        if newline is not None:
            out.append(("\n", line, True))
            line += 1
        elif comment is not None:
            continue
        elif quoted is not None:
            out.append((re.sub(r"\\(.)", r"\1", quoted), line, False))
        else:
            out.append((brace or word, line, False))
    return out


def _expand_env(text: str) -> str:
    """CoreDNS replaces {$VAR} and {%VAR%} with environment values."""
    return re.sub(r"\{[$%](\w+)%?\}", lambda m: os.environ.get(m.group(1), ""), text)


def _parse_lines(toks: list[tuple[str, int, bool]], i: int, closing: bool) -> tuple[list[_Directive], int]:
    """Parse directives until a closing brace (when `closing`) or the end of input."""
    out: list[_Directive] = []
    while i < len(toks):
        tok, line, nl = toks[i]
        if nl:
            i += 1
            continue
        if tok == "}":
            if not closing:
                raise CorefileError(f"Corefile:{line}: unexpected '}}'")
            return out, i + 1
        if tok == "{":
            raise CorefileError(f"Corefile:{line}: unexpected '{{'")
        d = _Directive(tok, [], line)
        i += 1
        while i < len(toks) and not toks[i][2] and toks[i][0] not in "{}":
            d.args.append(toks[i][0])
            i += 1
        if i < len(toks) and toks[i][0] == "{":
            d.block, i = _parse_lines(toks, i + 1, True)
        out.append(d)
    if closing:
        raise CorefileError("Corefile: missing '}' at end of file")
    return out, i


def normalize_zone(zone: str) -> str:
    """Lower-case, fully qualified zone name ('.' for the root)."""
    z = zone.strip().lower()
    if z in ("", "."):
        return "."
    return z.rstrip(".") + "."


def _cidr_zones(arg: str) -> list[str] | None:
    """Reverse zones for a CIDR argument (octet / nibble boundaries), None when not a CIDR."""
    if "/" not in arg:
        return None
    try:
        net = ipaddress.ip_network(arg, strict=False)
    except ValueError as e:
        raise CorefileError(f"bad zone '{arg}': {e}") from e
    step = 8 if net.version == 4 else 4
    bound = -(-net.prefixlen // step) * step  # round up to an octet (v4) or nibble (v6) boundary
    subnets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = (
        [net] if bound == net.prefixlen else list(net.subnets(new_prefix=bound))
    )
    total = 4 if net.version == 4 else 32
    zones = []
    for n in subnets:
        rev = n.network_address.reverse_pointer.split(".")
        zones.append(normalize_zone(".".join(rev[total - bound // step :])))
    return zones


def _zone_args(args: list[str]) -> list[str]:
    zones: list[str] = []
    for a in args:
        zones.extend(_cidr_zones(a) or [normalize_zone(a)])
    return zones


def _parse_key(key: str, default_port: int) -> tuple[str, int]:
    """A server-block key: [dns://]zone[:port]."""
    k = key
    if "://" in k:
        scheme, k = k.split("://", 1)
        if scheme != "dns":
            raise CorefileError(f"server block '{key}': only dns:// is supported, not {scheme}://")
    port = default_port
    if k.startswith("["):  # [::1]:53 style is not a zone; refuse clearly
        raise CorefileError(f"server block '{key}': not a zone")
    if ":" in k:
        k, p = k.rsplit(":", 1)
        if not p.isdigit() or not 0 < int(p) < 65536:
            raise CorefileError(f"server block '{key}': bad port '{p}'")
        port = int(p)
    return k or ".", port


def _duration(value: str, what: str) -> int:
    """Seconds from a plain number or a Go duration like 5m, 2h30m, 90s."""
    if value.isdigit():
        return int(value)
    m = re.fullmatch(r"((\d+)h)?((\d+)m)?((\d+)s)?", value)
    if not value or m is None or not any(m.groups()):
        raise CorefileError(f"{what}: bad duration '{value}'")
    return int(m.group(2) or 0) * 3600 + int(m.group(4) or 0) * 60 + int(m.group(6) or 0)


def _addr(d: _Directive, default: str) -> str:
    if len(d.args) > 1:
        raise CorefileError(f"{d.name}: expects at most one address, got {len(d.args)} arguments")
    addr = d.args[0] if d.args else default
    _host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise CorefileError(f"{d.name}: bad address '{addr}' (want [HOST]:PORT)")
    return addr


def _parse_etcd(d: _Directive, block_zones: list[str]) -> EtcdConfig:
    zones = _zone_args(d.args) or block_zones
    cfg: dict[str, object] = {"zones": tuple(zones)}
    for sub in d.block:
        a = sub.args
        if sub.name == "path":
            if len(a) != 1:
                raise CorefileError("etcd: path requires exactly one argument")
            cfg["path"] = "/" + a[0].strip("/")
        elif sub.name == "endpoint":
            if not a:
                raise CorefileError("etcd: endpoint requires at least one argument")
            for e in a:
                if not re.fullmatch(r"(https?://)?[^/\s:]+(:\d+)?/?", e):
                    raise CorefileError(f"etcd: bad endpoint '{e}'")
            cfg["endpoints"] = tuple(a)
        elif sub.name == "credentials":
            if len(a) != 2:
                raise CorefileError("etcd: credentials requires 2 arguments (USERNAME PASSWORD)")
            cfg["username"], cfg["password"] = a
        elif sub.name == "tls":
            if len(a) > 3:
                raise CorefileError("etcd: tls takes at most 3 arguments (CERT KEY CACERT)")
            cfg["tls"] = tuple(a)
        elif sub.name == "fallthrough":
            cfg["fallthrough"] = tuple(_zone_args(a))
        elif sub.name in ("min-lease-ttl", "max-lease-ttl"):
            if len(a) != 1:
                raise CorefileError(f"etcd: {sub.name} requires one duration")
            cfg[sub.name.replace("-", "_")] = _duration(a[0], f"etcd {sub.name}")
        elif sub.name in ("stubzones", "debug", "upstream"):
            continue  # accepted and ignored, as CoreDNS does
        else:
            raise CorefileError(f"etcd: unknown property '{sub.name}' (line {sub.line})")
    return EtcdConfig(**cfg)  # type: ignore[arg-type]


def _parse_cache(d: _Directive) -> CacheConfig:
    ttl = 3600
    denial = 1800
    if d.args:
        if not d.args[0].isdigit() or int(d.args[0]) == 0:
            raise CorefileError(f"cache: bad TTL '{d.args[0]}'")
        ttl = int(d.args[0])
        denial = min(denial, ttl)
    capacity = 9984
    for sub in d.block:
        if sub.name in ("success", "denial"):
            if not sub.args or not sub.args[0].isdigit():
                raise CorefileError(f"cache: {sub.name} requires CAPACITY [TTL [MINTTL]]")
            if sub.name == "success":
                capacity = int(sub.args[0])
                if len(sub.args) > 1:
                    ttl = _duration(sub.args[1], "cache success")
            elif len(sub.args) > 1:
                denial = _duration(sub.args[1], "cache denial")
        elif sub.name in ("prefetch", "serve_stale", "servfail", "disable", "keepttl"):
            continue  # accepted: answers here are invalidated on change, so these have no effect
        else:
            raise CorefileError(f"cache: unknown property '{sub.name}' (line {sub.line})")
    return CacheConfig(max_ttl=ttl, denial_ttl=denial, capacity=capacity)


def _parse_block(keys: list[str], body: list[_Directive], default_port: int) -> list[ServerBlock]:
    """One ServerBlock per distinct port among the block's keys (CoreDNS starts one server per port)."""
    by_port: dict[int, list[str]] = {}
    for k in keys:
        zone, port = _parse_key(k, default_port)
        by_port.setdefault(port, []).append(zone)
    return [_parse_body(_zone_args(zones), port, body) for port, zones in by_port.items()]


def _parse_body(zones: list[str], port: int, body: list[_Directive]) -> ServerBlock:
    opts: dict[str, object] = {"zones": tuple(zones), "port": port}
    seen: set[str] = set()
    for d in body:
        if d.name not in KNOWN_DIRECTIVES:
            raise CorefileError(f"unknown directive '{d.name}' (Corefile line {d.line})")
        if d.name in seen:
            raise CorefileError(f"directive '{d.name}' given twice in one server block (line {d.line})")
        seen.add(d.name)
        if d.name == "etcd":
            opts["etcd"] = _parse_etcd(d, zones)
        elif d.name == "cache":
            opts["cache"] = _parse_cache(d)
        elif d.name in ("log", "errors"):
            if d.block and d.name == "errors":
                for sub in d.block:
                    if sub.name not in ("consolidate", "stacktrace"):
                        raise CorefileError(f"errors: unknown property '{sub.name}'")
            opts[d.name] = True
        elif d.name == "health":
            for sub in d.block:
                if sub.name != "lameduck" or len(sub.args) != 1:
                    raise CorefileError(f"health: unknown property '{sub.name}' or bad arguments")
                opts["lameduck"] = _duration(sub.args[0], "health lameduck")
            opts["health"] = _addr(d, ":8080")
        elif d.name == "ready":
            opts["ready"] = _addr(d, ":8181")
        elif d.name == "prometheus":
            opts["prometheus"] = _addr(d, "localhost:9153")
        elif d.name == "bufsize":
            opts["bufsize"] = _parse_bufsize(d)
        elif d.name == "bind":
            opts["bind"] = _parse_bind(d)
        elif d.name == "ratelimit":
            opts["ratelimit"] = _parse_ratelimit(d)
        elif d.name == "any" and (d.args or d.block):
            raise CorefileError("any: takes no arguments")
    return ServerBlock(**opts)  # type: ignore[arg-type]


def _parse_bufsize(d: _Directive) -> int:
    low, high = BUFSIZE_RANGE
    if len(d.args) > 1 or d.block:
        raise CorefileError("bufsize: expects at most one argument (SIZE)")
    if not d.args:
        return DEFAULT_BUFSIZE
    if not d.args[0].isdigit() or not low <= int(d.args[0]) <= high:
        raise CorefileError(f"bufsize: '{d.args[0]}' is not a size from {low} to {high}")
    return int(d.args[0])


def _parse_bind(d: _Directive) -> tuple[str, ...]:
    if not d.args or d.block:
        raise CorefileError("bind: expects one or more addresses")
    out = []
    for a in d.args:
        try:
            out.append(str(ipaddress.ip_address(a)))  # an IPv6 zone (fe80::1%eth0) is kept
        except ValueError as e:
            raise CorefileError(
                f"bind: '{a}' is not an IP address (interface names are not supported)"
            ) from e
    return tuple(out)


def _positive(value: str, what: str, zero: bool = False) -> int:
    if not value.isdigit() or (int(value) == 0 and not zero):
        raise CorefileError(
            f"ratelimit: {what} must be a {'non-negative' if zero else 'positive'} integer, not '{value}'"
        )
    return int(value)


def _parse_ratelimit(d: _Directive) -> RateLimitConfig:
    """`ratelimit RATE { window S; slip N; ipv4-prefix-length L; ipv6-prefix-length L }`."""
    if len(d.args) != 1:
        raise CorefileError("ratelimit: expects one argument (responses per second per client network)")
    opts: dict[str, int] = {"rate": _positive(d.args[0], "the rate")}
    for sub in d.block:
        if len(sub.args) != 1:
            raise CorefileError(f"ratelimit: {sub.name} expects one argument")
        if sub.name == "window":
            opts["window"] = _positive(sub.args[0], "window")
        elif sub.name == "slip":
            opts["slip"] = _positive(sub.args[0], "slip", zero=True)
        elif sub.name in ("ipv4-prefix-length", "ipv6-prefix-length"):
            top = 32 if sub.name.startswith("ipv4") else 128
            n = _positive(sub.args[0], sub.name)
            if n > top:
                raise CorefileError(f"ratelimit: {sub.name} {n} is longer than {top}")
            opts[sub.name[:4] + "_prefix"] = n
        else:
            raise CorefileError(f"ratelimit: unknown property '{sub.name}' (line {sub.line})")
    return RateLimitConfig(**opts)


def parse(text: str, default_port: int = DEFAULT_PORT) -> list[ServerBlock]:
    """Parse Corefile text; raise CorefileError naming the first problem."""
    toks = _tokens(_expand_env(text))
    blocks: list[ServerBlock] = []
    i = 0
    while i < len(toks):
        if toks[i][2]:
            i += 1
            continue
        keys: list[str] = []
        line = toks[i][1]
        while i < len(toks) and toks[i][0] != "{":
            if not toks[i][2]:
                keys.extend(k for k in toks[i][0].split(",") if k)
            i += 1
        if i >= len(toks):
            raise CorefileError(f"Corefile:{line}: server block '{' '.join(keys)}' has no '{{'")
        body, i = _parse_lines(toks, i + 1, True)
        blocks.extend(_parse_block(keys, body, default_port))
    if not blocks:
        raise CorefileError("Corefile: no server blocks")
    binds: dict[int, tuple[str, ...]] = {}
    for b in blocks:
        if binds.setdefault(b.port, b.bind) != b.bind:
            raise CorefileError(
                f"server blocks on port {b.port} bind different addresses: give them the same bind"
            )
        if b.ratelimit != next(o.ratelimit for o in blocks if o.port == b.port):
            raise CorefileError(
                f"server blocks on port {b.port} differ in ratelimit: it applies to the whole port"
            )
    seen: dict[tuple[str, int], int] = {}
    for n, b in enumerate(blocks):
        for z in b.zones:
            if (z, b.port) in seen:
                raise CorefileError(f"zone '{z}' on port {b.port} is defined in two server blocks")
            seen[(z, b.port)] = n
    return blocks
