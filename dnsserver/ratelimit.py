"""Response rate limiting per client network (BIND RRL's idea): a token bucket per /24 or /56, with slip."""

from __future__ import annotations

import logging
import socket
from enum import Enum

from dnsserver.corefile import RateLimitConfig

log = logging.getLogger("dnsserver")
MAX_CLIENTS = 100_000  # client networks tracked at once; idle ones are forgotten to make room


class Verdict(Enum):
    """What to do with one UDP response."""

    SEND = "send"
    DROP = "drop"
    SLIP = "slip"  # send a small truncated reply instead: a real client behind the address retries on TCP


class RateLimiter:
    """A token bucket per client network, with debt.

    Each network earns `rate` responses a second and may bank one second of them; when it spends
    more it goes into debt down to `window` seconds' worth, so a flood must stop for a while before
    it is answered again. While in debt every `slip`-th response is a TC reply, the rest dropped.
    """

    def __init__(self, cfg: RateLimitConfig, max_clients: int = MAX_CLIENTS) -> None:
        self.rate = float(cfg.rate)
        self.floor = -float(cfg.window * cfg.rate)
        self.slip = cfg.slip
        self.shift4 = 32 - cfg.ipv4_prefix
        self.shift6 = 128 - cfg.ipv6_prefix
        self.prefix4 = cfg.ipv4_prefix
        self.prefix6 = cfg.ipv6_prefix
        self.max_clients = max_clients
        # network -> [balance, last update (monotonic s), responses refused in this episode]
        self.buckets: dict[tuple[int, int], list[float]] = {}
        self.dropped = 0
        self.slipped = 0

    def network(self, ip: str) -> tuple[int, int] | None:
        """(family, network number) of a client address, None if it is not an address."""
        try:
            if ":" in ip:
                return 6, int.from_bytes(
                    socket.inet_pton(socket.AF_INET6, ip.split("%")[0]), "big"
                ) >> self.shift6
            return 4, int.from_bytes(socket.inet_aton(ip), "big") >> self.shift4
        except OSError:
            return None

    def check(self, ip: str, now: float) -> Verdict:
        """Account one response to `ip` at monotonic time `now`."""
        net = self.network(ip)
        if net is None:
            return Verdict.SEND
        b = self.buckets.get(net)
        if b is None:
            if len(self.buckets) >= self.max_clients:
                self._forget_idle(now)
            if len(self.buckets) >= self.max_clients:
                return Verdict.SEND  # every slot busy: fail open rather than limit strangers
            b = self.buckets[net] = [self.rate, now, 0.0]
        balance = min(self.rate, b[0] + (now - b[1]) * self.rate) - 1.0
        b[1] = now
        b[0] = max(balance, self.floor)
        if balance >= 0:
            if b[2]:
                log.info(
                    "ratelimit: %s is under its rate again (%d responses refused)", self.label(net), int(b[2])
                )
                b[2] = 0.0
            return Verdict.SEND
        b[2] += 1
        if b[2] == 1:
            log.warning(
                "ratelimit: %s is over %g responses/s: dropping its responses%s",
                self.label(net),
                self.rate,
                f" (every {self.slip} a truncated reply)" if self.slip else "",
            )
        if self.slip and int(b[2]) % self.slip == 0:
            self.slipped += 1
            return Verdict.SLIP
        self.dropped += 1
        return Verdict.DROP

    def label(self, net: tuple[int, int]) -> str:
        family, n = net
        if family == 4:
            return f"{socket.inet_ntoa((n << self.shift4).to_bytes(4, 'big'))}/{self.prefix4}"
        return f"{socket.inet_ntop(socket.AF_INET6, (n << self.shift6).to_bytes(16, 'big'))}/{self.prefix6}"

    def _forget_idle(self, now: float) -> None:
        """Drop networks whose bucket has refilled: they are no different from a new client."""
        full = [k for k, b in self.buckets.items() if b[0] + (now - b[1]) * self.rate >= self.rate]
        for k in full:
            del self.buckets[k]
