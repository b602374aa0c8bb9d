"""Watching CRD-backed kinds (Gateway API routes, DNSEndpoints) only while the API server serves them.

The emitter asks discovery (`GET /apis/<group>/<version>`) at the start of its term and every
`DISCOVERY_INTERVAL` seconds after: a kind whose CRD is installed later is watched from then on, one
whose CRD disappears is no longer watched. A kind that is not served costs nothing and logs one line.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from adapters.kube_api import Kube
from adapters.outages import backend_of
from process import metrics
from process.backoff import Backoff
from process.logs import log

DISCOVERY_INTERVAL = float(os.environ.get("EXTDNS_DISCOVERY_INTERVAL", "15"))  # seconds between checks


@dataclass
class Discovery:
    """Every `interval`, start watching the wanted kinds that became served and stop those that went away.

    `start(kind, late)` begins a watch; `late` is True for a kind that appeared during the term (its
    objects were not covered by the start-up resync, so its first list is published). `stop(kind)`
    ends one. `ready` is set after the first check, failed or not.
    """

    kube: Kube
    kinds: Sequence[str]
    start: Callable[[str, bool], None]
    stop: Callable[[str], None]
    done: threading.Event
    interval: float = DISCOVERY_INTERVAL
    ready: threading.Event = field(default_factory=threading.Event)
    watching: set[str] = field(default_factory=set)
    absent: set[str] = field(default_factory=set)  # said not served (one line per change)
    checked: bool = False  # a check has succeeded in this term

    def check(self) -> None:
        served = self.kube.served(self.kinds)
        late = self.checked
        for kind in self.kinds:
            if kind in served:
                self.absent.discard(kind)
                if kind not in self.watching:
                    if late:
                        log.info(f"{kind} is served now: watching it")
                    self.watching.add(kind)
                    self.start(kind, late)
            else:
                if kind in self.watching:
                    log.info(f"{kind} is no longer served (its CRD was removed): not watching it")
                    self.watching.discard(kind)
                    self.stop(kind)
                if kind not in self.absent:
                    self.absent.add(kind)
                    log.info(
                        f"{kind} is not served (CRD not installed): not watching it;"
                        f" checking again every {self.interval:g}s"
                    )
        self.checked = True

    def run(self) -> None:
        backoff = Backoff()
        failing = False
        while not self.done.is_set():
            try:
                self.check()
                if failing:
                    log.info("discovery recovered")
                    failing = False
                backoff.reset()
                wait = self.interval
            except Exception as exc:
                metrics.backend_errors.labels(backend=backend_of(exc) or "kubernetes").inc()
                if not failing:
                    log.warning("discovery failed, retrying", error=str(exc).splitlines()[0][:200])
                    failing = True
                wait = min(self.interval, backoff.next())
            self.ready.set()
            self.done.wait(wait)
