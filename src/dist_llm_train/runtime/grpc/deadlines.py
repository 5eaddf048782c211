"""Deadlines on streamed calls, derived from the worker's own link and the message's size.

gRPC's synchronous server has no server-side deadline: a push whose sender sends its header and then
stalls, or a pull whose receiver never reads, holds its handler thread (and its leased buffer) for as
long as the connection stays open. Each push and pull is therefore watched: it must finish within

    grace + bytes / max(floor_rate, link_rate / slack)

seconds, where `link_rate` is what this worker's earlier transfers achieved (an exponential moving
average of bytes per second; `initial_rate` until it has one). A fast link gets a short deadline, a
slow one a long one, a large message more time than a small one; an honest transfer at a quarter of
its usual speed still fits. A call past its deadline is cancelled (its thread is freed, the client
sees CANCELLED and an honest one retries), and what it achieved so far feeds the estimate, so a link
that really slowed down gets longer deadlines next time. The floor bounds the longest deadline.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("dist_llm_train.grpc.deadlines")


class LinkRates:
    """Bytes per second each worker's transfers achieved (EMA), and the deadlines that follow."""

    def __init__(self, grace: float = 10.0, initial_rate: float = 4e6, floor_rate: float = 64e3,
                 slack: float = 4.0, alpha: float = 0.3, min_bytes: int = 64 << 10):
        self.grace = grace
        self.initial_rate = initial_rate
        self.floor_rate = floor_rate
        self.slack = slack
        self.alpha = alpha
        self.min_bytes = min_bytes  # shorter transfers measure the call's latency, not the link
        self._rates: dict[int, float] = {}
        self._lock = threading.Lock()

    def rate(self, worker_id: int) -> float:
        with self._lock:
            return self._rates.get(worker_id, self.initial_rate)

    def observe(self, worker_id: int, nbytes: int, seconds: float) -> None:
        if nbytes < self.min_bytes or seconds <= 0:
            return
        r = nbytes / seconds
        with self._lock:
            old = self._rates.get(worker_id)
            self._rates[worker_id] = r if old is None else (1 - self.alpha) * old + self.alpha * r

    def deadline(self, worker_id: int, nbytes: int) -> float:
        """Seconds a transfer of `nbytes` by this worker may take."""
        return self.grace + nbytes / max(self.floor_rate, self.rate(worker_id) / self.slack)


class Watch:
    """One watched call: `progress(n)` counts bytes moved, `extend(s)` sets a new deadline from now,
    `done()` stops watching (returns whether it had expired)."""

    __slots__ = ("worker_id", "what", "started", "deadline", "moved", "expired", "_cancel", "_dog", "_active")

    def __init__(self, dog: Watchdog, worker_id: int, what: str, seconds: float, cancel: Callable[[], None]):
        self._dog = dog
        self.worker_id, self.what = worker_id, what
        self.started = time.monotonic()
        self.deadline = self.started + seconds
        self.moved = 0
        self.expired = False
        self._cancel = cancel
        self._active = True

    def progress(self, nbytes: int) -> None:
        self.moved += nbytes

    def extend(self, seconds: float) -> None:
        with self._dog._lock:
            self.deadline = time.monotonic() + seconds
        self._dog._push(self)

    def done(self) -> bool:
        """Stop watching; True when the deadline had already passed (the call is being cancelled).
        Once this returned False the watchdog never cancels the call: what follows (a server step)
        cannot be cut halfway."""
        with self._dog._lock:
            self._active = False
            return self.expired


class Watchdog:
    """One thread that cancels watched calls past their deadlines (checked every `tick` seconds)."""

    def __init__(self, rates: LinkRates, tick: float = 0.2, on_expire: Callable[[Watch], None] | None = None,
                 on_tick: Callable[[], None] | None = None):
        self.rates = rates
        self.tick = tick
        self.on_expire = on_expire
        self.on_tick = on_tick  # other periodic housekeeping (the refusal log's report)
        self._heap: list = []
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="deadlines")
        self._thread.start()

    def watch(self, worker_id: int, what: str, seconds: float, cancel: Callable[[], None]) -> Watch:
        w = Watch(self, worker_id, what, seconds, cancel)
        self._push(w)
        return w

    def _push(self, w: Watch) -> None:
        with self._lock:
            heapq.heappush(self._heap, (w.deadline, next(self._seq), w))

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            now = time.monotonic()
            due = []
            with self._lock:
                while self._heap and self._heap[0][0] <= now:
                    deadline, _, w = heapq.heappop(self._heap)
                    if w._active and deadline == w.deadline:  # not finished, not extended since
                        w.expired = True
                        w._active = False
                        due.append(w)
            for w in due:
                self.rates.observe(w.worker_id, w.moved, now - w.started)
                try:
                    w._cancel()
                except Exception:  # the call ended meanwhile: nothing to cancel
                    log.debug("cancel of %s failed", w.what, exc_info=True)
                if self.on_expire is not None:
                    self.on_expire(w)
            if self.on_tick is not None:
                try:
                    self.on_tick()
                except Exception:  # housekeeping must never stop the deadlines
                    log.exception("periodic housekeeping failed")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
