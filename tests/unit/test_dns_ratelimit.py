"""The ratelimit token buckets: per network, debt down to the window, slip, recovery, bounded memory."""

from __future__ import annotations

from dnsserver.corefile import RateLimitConfig
from dnsserver.ratelimit import RateLimiter, Verdict

SEND, DROP, SLIP = Verdict.SEND, Verdict.DROP, Verdict.SLIP


def test_a_network_gets_its_rate_then_drops_with_every_second_one_slipped() -> None:
    rl = RateLimiter(RateLimitConfig(rate=10, window=5, slip=2))
    got = [rl.check("192.0.2.7", 100.0) for _ in range(16)]
    assert got == [SEND] * 10 + [DROP, SLIP, DROP, SLIP, DROP, SLIP]
    assert (rl.dropped, rl.slipped) == (3, 3)


def test_other_networks_are_not_touched_and_a_whole_24_shares_one_bucket() -> None:
    rl = RateLimiter(RateLimitConfig(rate=5, slip=0))
    assert [rl.check(f"192.0.2.{i}", 1.0) for i in range(7)] == [SEND] * 5 + [DROP] * 2
    assert rl.check("192.0.3.1", 1.0) is SEND  # the next /24
    assert rl.check("2001:db8:0:100::1", 1.0) is SEND  # another /56
    for _ in range(4):
        rl.check("2001:db8:0:1::1", 1.0)
    assert rl.check("2001:db8:0:2::2", 1.0) is SEND  # same /56: the 5th response
    assert rl.check("2001:db8:0:3::3", 1.0) is DROP


def test_a_flood_must_stop_for_the_window_before_it_is_answered_again() -> None:
    rl = RateLimiter(RateLimitConfig(rate=10, window=3, slip=0))
    for i in range(1000):  # 1000 queries in one second: deep in debt, capped at -30
        rl.check("198.51.100.1", 10.0 + i / 1000)
    assert rl.check("198.51.100.1", 12.0) is DROP  # refilled 10 of 30 owed
    assert rl.check("198.51.100.1", 14.2) is SEND  # 3 s after the flood


def test_a_steady_client_under_its_rate_is_never_limited() -> None:
    rl = RateLimiter(RateLimitConfig(rate=20))
    assert all(rl.check("203.0.113.9", t / 19) is SEND for t in range(2000))


def test_idle_networks_are_forgotten_when_the_table_is_full() -> None:
    rl = RateLimiter(RateLimitConfig(rate=2), max_clients=100)
    for i in range(100):
        rl.check(f"10.{i}.0.1", 0.0)
    assert len(rl.buckets) == 100
    assert rl.check("10.200.0.1", 5.0) is SEND  # the others have refilled: forgotten to make room
    assert len(rl.buckets) == 1


def test_not_an_address_is_answered() -> None:
    rl = RateLimiter(RateLimitConfig(rate=1))
    assert rl.check("", 0.0) is SEND and rl.check("nonsense", 0.0) is SEND
