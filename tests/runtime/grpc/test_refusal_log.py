"""Refusals are logged once per caller and kind, then in aggregate; failing callers are throttled."""

import logging

from dist_llm_train.runtime.grpc.refusal_log import FailureThrottle, RefusalLog, peer_host


def test_peer_host_drops_the_port():
    assert peer_host("ipv4:10.0.0.5:41234") == "ipv4:10.0.0.5"
    assert peer_host("ipv6:[::1]:5") == "ipv6:[::1]"
    assert peer_host("unix:/tmp/s") == "unix:/tmp/s"


def test_a_flood_is_one_line_then_one_summary_per_period(caplog):
    now = [0.0]
    log = RefusalLog(logging.getLogger("test.refusals"), every=10.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="test.refusals"):
        for _ in range(2000):
            log.refused("ipv4:1.2.3.4", "UNAUTHENTICATED", "the token is not valid for worker 0\nforged")
            now[0] += 0.001
        log.refused("ipv4:5.6.7.8", "UNAUTHENTICATED", "no credential")
        now[0] += 10.0
        line = log.flush()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3, lines  # the first from each caller, then the summary
    assert "refused 1999 more calls" in line and "ipv4:1.2.3.4 (1999)" in line
    assert all("\n" not in m for m in lines)
    assert log.total == 2001


def test_throttle_only_after_the_burst_and_refills():
    now = [0.0]
    t = FailureThrottle(rate=1.0, burst=3.0, clock=lambda: now[0])
    assert [t.fail("a") for _ in range(5)] == [False, False, False, True, True]
    assert t.fail("b") is False
    now[0] += 2.0
    assert t.fail("a") is False
