"""The one backoff: exponential from a base, capped, with jitter; for reconnects, retries and re-queues."""

from __future__ import annotations

import random


def backoff_delay(attempt: int, base: float, cap: float, jitter: float) -> float:
    """`base`·2^attempt, capped at `cap`, times `jitter` (0.5 to 1.0: the result never exceeds the cap)."""
    return float(min(cap, base * 2.0 ** min(attempt, 60)) * jitter)


class Backoff:
    """Successive delays for one thing that keeps failing; `reset` on success."""

    def __init__(self, base: float = 0.5, cap: float = 30.0) -> None:
        self.base, self.cap, self.n = base, cap, 0

    def next(self) -> float:
        delay = backoff_delay(self.n, self.base, self.cap, random.uniform(0.5, 1.0))
        self.n += 1
        return delay

    def reset(self) -> None:
        self.n = 0
