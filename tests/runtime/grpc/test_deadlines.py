"""Stream deadlines from the worker's own link speed and the message size; the watchdog cancels late calls."""

import threading
import time

from dist_llm_train.runtime.grpc.deadlines import LinkRates, Watchdog


def test_deadline_follows_the_link_and_the_size():
    rates = LinkRates(grace=2.0, initial_rate=1e6, floor_rate=1e4, slack=4.0, alpha=0.5, min_bytes=1000)
    assert rates.deadline(0, 1_000_000) == 2.0 + 4.0  # a quarter of the initial 1 MB/s
    rates.observe(0, 100_000_000, 1.0)  # a fast link: 100 MB/s
    assert rates.deadline(0, 1_000_000) < 2.1
    assert rates.deadline(0, 100_000_000) > rates.deadline(0, 1_000_000)
    rates.observe(1, 500, 10.0)  # too short to measure a link
    assert rates.rate(1) == 1e6
    rates.observe(1, 10_000, 100.0)  # 100 B/s: the floor bounds the deadline
    assert rates.deadline(1, 1_000_000) <= 2.0 + 1_000_000 / 1e4


def test_watchdog_cancels_a_late_call_and_spares_a_finished_one():
    rates = LinkRates()
    expired = []
    dog = Watchdog(rates, tick=0.02, on_expire=expired.append)
    try:
        cancelled = threading.Event()
        late = dog.watch(3, "push", 0.1, cancelled.set)
        spared = threading.Event()
        quick = dog.watch(4, "pull", 0.1, spared.set)
        assert quick.done() is False  # finished in time: never cancelled afterwards
        assert cancelled.wait(2.0) and late.expired and expired == [late]
        assert late.done() is True
        extended = threading.Event()
        w = dog.watch(5, "push", 0.05, extended.set)
        w.extend(5.0)  # the header arrived: a new deadline from the size
        time.sleep(0.3)
        assert not extended.is_set() and not spared.is_set()
        w.done()
    finally:
        dog.close()
