"""Per-worker call limits: calls in flight per method and in all, bytes in flight, calls per second."""

import grpc
import pytest

from dist_llm_train.runtime.grpc.call_limits import PER_IDENTITY, CallLimiter, MethodLimit, pool_threads
from dist_llm_train.runtime.grpc.validation import Rejected


def refused(fn, *args) -> str:
    with pytest.raises(Rejected) as info:
        fn(*args)
    assert info.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    return info.value.message


def test_calls_in_flight_per_method_and_per_worker():
    lim = CallLimiter({"Pull": MethodLimit(2, 0, 0), "Push": MethodLimit(2, 0, 0), "Status": MethodLimit(1, 0, 0)},
                      per_identity=3)
    a, b = lim.enter(0, "Pull"), lim.enter(0, "Pull")
    assert "2 Pull call(s) in flight" in refused(lim.enter, 0, "Pull")
    c = lim.enter(0, "Push")
    assert "already has 3 calls in flight (at most 3)" in refused(lim.enter, 0, "Status")
    lim.enter(1, "Pull")  # another worker is not affected
    lim.leave(a)
    lim.enter(0, "Status")
    for t in (b, c):
        lim.leave(t)
    assert lim.in_flight(0) == (1, 0)


def test_rate_per_method_refills_with_time():
    now = [0.0]
    lim = CallLimiter({"Register": MethodLimit(5, 1.0, 2.0)}, clock=lambda: now[0])
    for _ in range(2):
        lim.leave(lim.enter(0, "Register"))
    assert "faster than 1/s" in refused(lim.enter, 0, "Register")
    now[0] += 1.0
    lim.leave(lim.enter(0, "Register"))
    assert "faster than" in refused(lim.enter, 0, "Register")


def test_bytes_in_flight_are_bounded_and_given_back():
    lim = CallLimiter({"Push": MethodLimit(3, 0, 0)}, max_bytes=100)
    t1, t2 = lim.enter(0, "Push"), lim.enter(0, "Push")
    lim.add_bytes(t1, 60)
    assert "60 bytes in flight; 50 more would pass its limit of 100" in refused(lim.add_bytes, t2, 50)
    lim.leave(t1)
    lim.add_bytes(t2, 100)
    assert lim.in_flight(0) == (1, 100)
    lim.leave(t2)
    assert lim.in_flight(0) == (0, 0)


def test_the_pool_outlasts_every_worker_at_its_limit():
    assert pool_threads(8) > 8 * PER_IDENTITY
