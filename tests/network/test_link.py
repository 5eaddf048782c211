"""Link.transfer_time (latency, bandwidth, jitter, loss) and compute time from hardware profiles."""

from __future__ import annotations

import random

import pytest

from dist_llm_train.network import HARDWARE_PROFILES, REFERENCE_PROFILE, Link


def _link(**kw) -> Link:
    base = {"name": "w", "region": "r", "bandwidth_up": 100.0, "bandwidth_down": 400.0, "latency_ms": 20.0}
    base.update(kw)
    return Link(**base)


def test_latency_plus_serialization_each_direction():
    lk = _link()
    nbytes = 1_000_000  # 8 Mbit
    assert lk.transfer_time(nbytes, "up") == pytest.approx(0.020 + 8 / 100)
    assert lk.transfer_time(nbytes, "down") == pytest.approx(0.020 + 8 / 400)
    assert lk.transfer_time(0, "up") == pytest.approx(0.020)  # an empty message still pays the latency


def test_loss_is_paid_as_retransmission():
    lossless, lossy = _link(), _link(loss=0.2)
    nbytes = 2_000_000
    extra = lossy.transfer_time(nbytes, "up") - 0.020
    assert extra == pytest.approx((lossless.transfer_time(nbytes, "up") - 0.020) / 0.8)


def test_jitter_is_deterministic_per_seed_and_varies_between_draws():
    lk = _link(jitter_ms=5.0)
    a = [lk.transfer_time(1000, "up", random.Random(7)) for _ in range(3)]
    assert a[0] == a[1] == a[2]  # the same seed gives the same delay
    rng = random.Random(7)
    draws = [lk.transfer_time(1000, "up", rng) for _ in range(200)]
    assert draws[0] == a[0]
    assert len(set(draws)) > 150
    base = _link().transfer_time(1000, "up")
    mean = sum(draws) / len(draws)
    assert mean == pytest.approx(base, abs=0.0015)  # zero-mean jitter around the latency
    assert min(draws) >= 1000 * 8 / 100e6  # latency never below zero
    assert lk.transfer_time(1000, "up") == base  # no rng: no jitter


def test_compute_time_follows_model_size_and_hardware():
    t4 = _link()
    a100 = _link(flops=HARDWARE_PROFILES["a100-bf16"])
    tokens = 2 * 32
    small, big = 6 * 1e6 * tokens, 6 * 124e6 * tokens  # 6 x parameters x tokens
    assert t4.compute_time(small) == pytest.approx(small / HARDWARE_PROFILES[REFERENCE_PROFILE])
    assert t4.compute_time(big) / t4.compute_time(small) == pytest.approx(124.0)
    assert t4.compute_time(big) / a100.compute_time(big) == pytest.approx(
        HARDWARE_PROFILES["a100-bf16"] / HARDWARE_PROFILES["t4"])
    assert t4.speed == 1.0 and a100.speed > 10


@pytest.mark.parametrize(("kw", "match"), [({"bandwidth_up": 0.0}, "bandwidth"), ({"loss": 1.0}, "loss"),
                                           ({"flops": 0.0}, "compute")])
def test_invalid_links_are_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        _link(**kw)
