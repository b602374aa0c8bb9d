"""The emitter's batches: a lone event waits the linger setting; a stream is published in larger batches."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

from emitter.process import Publisher

BASE = 0.005


def publisher() -> Publisher:
    rt: Any = SimpleNamespace(settings=SimpleNamespace(emitter_batch_linger=BASE, emitter_batch_size=256))
    return Publisher(rt, threading.Event())


def test_the_linger_doubles_while_batches_follow_closely_and_resets_after_a_pause() -> None:
    p = publisher()
    assert p._linger(100.0) == BASE, "the first event of a quiet period waits only the setting"
    p.last = 100.0
    assert p._linger(100.001) == 2 * BASE
    p.last = 100.002
    assert p._linger(100.003) == 4 * BASE
    p.last = 100.004
    assert p._linger(100.005) == 4 * BASE, "never more than 4x the setting"
    p.last = 100.006
    assert p._linger(101.0) == BASE, "after a pause, back to the setting"


def test_a_stream_of_events_is_published_in_fewer_larger_batches() -> None:
    from controller.reconcile import Message
    from extdns.sources import ObjectRef

    p = publisher()
    stop = threading.Event()

    def stream() -> None:
        for i in range(400):
            if stop.is_set():
                return
            p.q.put(Message(ObjectRef("Service", "ns", f"s{i}"), time.time(), "1", "ADDED"))
            time.sleep(0.002)  # 500 events/s

    feeder = threading.Thread(target=stream)
    feeder.start()
    sizes = []
    try:
        while len(sizes) < 12:
            sizes.append(len(p._batch()))
    finally:
        stop.set()
        feeder.join()
    assert sizes[0] <= 4, f"the first batch closes after the setting: {sizes}"
    assert min(sizes[3:]) >= 5, f"then batches span 4x the setting (~10 events at 500/s): {sizes}"
