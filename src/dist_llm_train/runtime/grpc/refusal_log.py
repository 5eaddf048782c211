"""Refused calls logged in aggregate, and callers that keep failing authentication throttled.

One WARNING line per refused call let an unauthenticated flood (about 1,800 calls a second on
loopback) write the server's log as fast as it could be sent, and hid everything else in it. Here
the first refusal of each kind from each caller is logged at once (so a misconfigured worker is seen
immediately), and the rest are counted and reported as one line per `every` seconds: how many, from
how many callers, the busiest callers and the reasons. A caller (an address, without its port) that
fails authentication more than `rate` times a second on average (bursts of `burst`) is throttled:
its further failures are answered RESOURCE_EXHAUSTED (clients back off on it) instead of
UNAUTHENTICATED, until its bucket refills. A call with a valid credential is never throttled, so an
honest worker behind the same address as an attacker keeps working.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

from dist_llm_train.runtime.grpc.bounded import bounded

#: callers remembered at most (the oldest are forgotten first): an address space cannot grow memory
MAX_CALLERS = 4096


def peer_host(peer: str) -> str:
    """'ipv4:10.0.0.5:41234' -> 'ipv4:10.0.0.5'; 'ipv6:[::1]:5' -> 'ipv6:[::1]' (the port changes per connection)."""
    peer = bounded(peer or "?", 80)
    head, sep, port = peer.rpartition(":")
    return head if sep and port.isdigit() and head.count(":") >= 1 else peer


class RefusalLog:
    def __init__(self, logger: logging.Logger, every: float = 10.0, clock=time.monotonic):
        self.logger = logger
        self.every = every
        self.clock = clock
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], None] = {}  # (caller, kind) already logged once, insertion-ordered
        self._pending: Counter = Counter()  # (caller, reason) -> refusals not yet reported
        self._since = clock()
        self.total = 0

    def refused(self, caller: str, kind: str, reason: str) -> None:
        """Record one refusal of `kind` (e.g. a status name) from `caller` for `reason` (bounded here)."""
        caller, reason = bounded(caller, 80), bounded(reason, 200)
        first = False
        with self._lock:
            self.total += 1
            key = (caller, kind)
            if key not in self._seen:
                self._seen[key] = None
                if len(self._seen) > MAX_CALLERS:
                    self._seen.pop(next(iter(self._seen)))
                first = True
            else:
                self._pending[(caller, reason)] += 1
        if first:
            self.logger.warning("refused call from %s: %s: %s (more from it are reported every %g s)", caller,
                                kind, reason, self.every)
        self.flush()

    def flush(self, force: bool = False) -> str | None:
        """Log the refusals counted since the last report, once `every` seconds have passed; returns the line."""
        with self._lock:
            now = self.clock()
            if not self._pending or (not force and now - self._since < self.every):
                return None
            pending, self._pending = self._pending, Counter()
            seconds, self._since = now - self._since, now
        callers = Counter()
        for (caller, _), n in pending.items():
            callers[caller] += n
        top = ", ".join(f"{c} ({n})" for c, n in callers.most_common(3))
        reasons = "; ".join(f"{r} ({n})" for (_, r), n in pending.most_common(3))
        line = (f"refused {sum(pending.values())} more calls in the last {seconds:.0f} s from {len(callers)} "
                f"caller(s): {top}; reasons: {reasons}")
        self.logger.warning("%s", line)
        return line


class FailureThrottle:
    """A token bucket per caller, spent by failed authentications only."""

    def __init__(self, rate: float = 10.0, burst: float = 50.0, clock=time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def fail(self, caller: str) -> bool:
        """Count one failure; True when the caller is over its budget (throttle it)."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(caller, (self.burst, now))  # re-inserted: most recent last
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            over = tokens < 1.0
            self._buckets[caller] = (tokens if over else tokens - 1.0, now)
            if len(self._buckets) > MAX_CALLERS:
                self._buckets.pop(next(iter(self._buckets)))
            return over
