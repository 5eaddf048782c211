"""Per-worker limits on every method: calls in flight, bytes in flight, and calls per second.

The server runs handlers on a fixed pool of threads, and a call holds its thread for as long as it
lasts (a push until its last frame is in, a pull until its last frame is read). Without limits,
one authenticated worker that opened two dozen pushes and stalled them held every thread: honest
heartbeats queued, honest workers were dropped, and the leased receive buffers grew the server by
700 MB. Here each identity may have at most `per_identity` calls in flight (and fewer per method),
at most `max_bytes` of declared payload in flight, and at most `rate` calls per second per method
(a token bucket with `burst`); the thread pool is sized to `per_identity` x workers plus headroom
(`pool_threads`), so the threads can never all be held by one identity, nor by all of them together.
A call over a limit is refused at once with RESOURCE_EXHAUSTED, which clients retry with backoff.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import grpc

from dist_llm_train.runtime.grpc.validation import Rejected


@dataclass(frozen=True)
class MethodLimit:
    concurrent: int  # calls of this method in flight per worker
    rate: float  # calls per second per worker, on average (0 = unlimited)
    burst: float  # calls allowed at once after a quiet spell


#: an honest worker has one pull or push in flight, a heartbeat, and now and then a status call or a
#: registration; the second pull/push slot covers a retry whose abandoned predecessor is still being cut
DEFAULT_LIMITS = {
    "Register": MethodLimit(1, 1.0, 5.0),
    "Pull": MethodLimit(2, 10.0, 20.0),
    "Push": MethodLimit(2, 0.0, 0.0),  # the rate is runtime.push_rate_limit, checked by ServerCore.admit_push
    "Heartbeat": MethodLimit(1, 10.0, 20.0),
    "Status": MethodLimit(1, 5.0, 10.0),
}
#: calls in flight per worker, all methods together
PER_IDENTITY = 4
#: threads beyond PER_IDENTITY x workers: unauthenticated callers (refused at once) and slack
POOL_HEADROOM = 16


def pool_threads(num_workers: int) -> int:
    """Handler threads for a run of `num_workers`: every worker at its limit still leaves headroom."""
    return PER_IDENTITY * num_workers + POOL_HEADROOM


class Ticket:
    """One admitted call; give it back with CallLimiter.leave (or use the limiter's `call`)."""

    __slots__ = ("identity", "method", "nbytes")

    def __init__(self, identity: int, method: str, nbytes: int):
        self.identity, self.method, self.nbytes = identity, method, nbytes


class CallLimiter:
    def __init__(self, limits: dict[str, MethodLimit] | None = None, per_identity: int = PER_IDENTITY,
                 max_bytes: int | None = None, clock=time.monotonic):
        self.limits = dict(DEFAULT_LIMITS if limits is None else limits)
        self.per_identity = per_identity
        self.max_bytes = max_bytes  # declared payload bytes in flight per worker (None: unlimited)
        self.clock = clock
        self._lock = threading.Lock()
        self._calls: dict[tuple[int, str], int] = {}
        self._total: dict[int, int] = {}
        self._bytes: dict[int, int] = {}
        self._buckets: dict[tuple[int, str], tuple[float, float]] = {}

    def _take_token(self, identity: int, method: str, lim: MethodLimit) -> bool:
        if lim.rate <= 0:
            return True
        now = self.clock()
        tokens, last = self._buckets.get((identity, method), (lim.burst, now))
        tokens = min(lim.burst, tokens + (now - last) * lim.rate)
        ok = tokens >= 1.0
        self._buckets[(identity, method)] = (tokens - 1.0 if ok else tokens, now)
        return ok

    def enter(self, identity: int, method: str) -> Ticket:
        """Admit one call or raise Rejected(RESOURCE_EXHAUSTED) naming the limit."""
        lim = self.limits[method]
        busy = grpc.StatusCode.RESOURCE_EXHAUSTED
        with self._lock:
            if not self._take_token(identity, method, lim):
                raise Rejected(busy, f"worker {identity} calls {method} faster than {lim.rate:g}/s; slow down")
            n = self._calls.get((identity, method), 0)
            if n >= lim.concurrent:
                raise Rejected(busy, f"worker {identity} already has {n} {method} call(s) in flight (at most "
                                     f"{lim.concurrent})")
            total = self._total.get(identity, 0)
            if total >= self.per_identity:
                raise Rejected(busy, f"worker {identity} already has {total} calls in flight (at most "
                                     f"{self.per_identity})")
            self._calls[(identity, method)] = n + 1
            self._total[identity] = total + 1
            return Ticket(identity, method, 0)

    def add_bytes(self, ticket: Ticket, nbytes: int) -> None:
        """Count `nbytes` more in flight for this call's worker, or refuse when over its budget."""
        with self._lock:
            have = self._bytes.get(ticket.identity, 0)
            if self.max_bytes is not None and have + nbytes > self.max_bytes:
                raise Rejected(grpc.StatusCode.RESOURCE_EXHAUSTED,
                               f"worker {ticket.identity} has {have} bytes in flight; {nbytes} more would pass its "
                               f"limit of {self.max_bytes}")
            self._bytes[ticket.identity] = have + nbytes
            ticket.nbytes += nbytes

    def leave(self, ticket: Ticket) -> None:
        with self._lock:
            key = (ticket.identity, ticket.method)
            self._calls[key] -= 1
            self._total[ticket.identity] -= 1
            if ticket.nbytes:
                self._bytes[ticket.identity] -= ticket.nbytes
                ticket.nbytes = 0

    def in_flight(self, identity: int) -> tuple[int, int]:
        """(calls, bytes) this worker has in flight now."""
        with self._lock:
            return self._total.get(identity, 0), self._bytes.get(identity, 0)
