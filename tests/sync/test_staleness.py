"""Staleness weights, the staleness-scaled lr, and the fixed and adaptive bounds."""

from __future__ import annotations

import math

import pytest
import torch

from dist_llm_train.sync import BoundedAsyncCoordinator
from dist_llm_train.sync.staleness import IntervalTracker, StalenessBound, staleness_weight


@pytest.mark.parametrize("tau", [0, 1, 3, 10])
def test_weight_schemes(tau):
    assert staleness_weight(tau, "none") == 1.0
    assert staleness_weight(tau, "inverse") == pytest.approx(1 / (1 + tau))
    assert staleness_weight(tau, "exp", a=0.3) == pytest.approx(math.exp(-0.3 * tau))


def test_unknown_scheme_is_refused():
    with pytest.raises(ValueError, match="unknown staleness weighting"):
        staleness_weight(0, "linear")
    with pytest.raises(ValueError, match="unknown staleness weighting"):
        BoundedAsyncCoordinator(num_workers=2, staleness_weighting="linear")


def _two_stale_updates(**kw) -> tuple:
    """Worker 0 at staleness 2 and worker 1 at staleness 4, buffer of 2, mean aggregator."""
    coord = BoundedAsyncCoordinator(num_workers=2, max_staleness=10, buffer_size=2, **kw)
    u0, u1 = torch.full((4,), 1.0), torch.full((4,), 3.0)
    coord.offer(0, u0, base_version=3, server_version=5)
    coord.offer(1, u1, base_version=1, server_version=5)
    assert coord.ready()
    return coord.flush(), u0, u1


def test_inverse_weighting_mixes_and_scales_the_step():
    fl, u0, u1 = _two_stale_updates(staleness_weighting="inverse")
    w0, w1 = 1 / 3, 1 / 5
    assert torch.allclose(fl.update, (w0 * u0 + w1 * u1) / (w0 + w1))
    assert fl.lr_scale == pytest.approx((w0 + w1) / 2)
    assert sorted(fl.staleness) == [2, 4]


def test_exp_weighting():
    fl, u0, u1 = _two_stale_updates(staleness_weighting="exp", staleness_exp_a=0.5)
    w0, w1 = math.exp(-1.0), math.exp(-2.0)
    assert torch.allclose(fl.update, (w0 * u0 + w1 * u1) / (w0 + w1))
    assert fl.lr_scale == pytest.approx((w0 + w1) / 2)


def test_no_weighting_is_a_plain_mean_at_full_lr():
    fl, u0, u1 = _two_stale_updates(staleness_weighting="none")
    assert torch.allclose(fl.update, (u0 + u1) / 2)
    assert fl.lr_scale == 1.0


def test_staleness_lr_divides_by_mean_staleness():
    fl, _, _ = _two_stale_updates(staleness_weighting="none", staleness_lr=True)
    assert fl.lr_scale == pytest.approx(1 / 3)  # mean tau = (2 + 4) / 2
    fl, _, _ = _two_stale_updates(staleness_weighting="inverse", staleness_lr=True)
    assert fl.lr_scale == pytest.approx((1 / 3 + 1 / 5) / 2 / 3)


def test_staleness_lr_never_raises_the_lr_of_fresh_updates():
    coord = BoundedAsyncCoordinator(num_workers=1, max_staleness=0, buffer_size=1, staleness_lr=True)
    coord.offer(0, torch.ones(3), base_version=0, server_version=0)
    assert coord.flush().lr_scale == 1.0  # divided by max(1, mean tau)


def test_fixed_and_adaptive_bounds():
    assert StalenessBound(3).bound(10.0) == 3
    assert StalenessBound(3, adaptive=True, multiplier=2.0).bound(1.0) == 5
    assert StalenessBound(3, adaptive=True, multiplier=2.0).bound(10.0) == 23
    with pytest.raises(ValueError, match="max_staleness"):
        StalenessBound(-1)


def test_interval_tracker_ratio_against_fastest_worker():
    tr = IntervalTracker(alpha=0.5)
    for w in (0, 1):
        tr.start(w, 0.0)
    for t in (1.0, 2.0, 3.0):
        tr.observe(0, t)
    tr.observe(1, 10.0)
    tr.observe(1, 20.0)
    assert tr.ratio(0) == pytest.approx(1.0)
    assert tr.ratio(1) == pytest.approx(10.0)
    assert tr.ratio(7) == 1.0  # unknown worker: judged as a normal one
