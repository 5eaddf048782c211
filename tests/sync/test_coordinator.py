"""BoundedAsyncCoordinator: admission with reasons, the staleness histogram, and the buffer of K workers."""

from __future__ import annotations

import pytest
import torch

from dist_llm_train.aggregation import make_aggregator
from dist_llm_train.sync import BoundedAsyncCoordinator


def test_fixed_bound_admission_and_rejection_reasons():
    # prepare
    coord = BoundedAsyncCoordinator(num_workers=2, max_staleness=2, buffer_size=2)
    ok = torch.ones(3)
    # execute
    a = coord.offer(0, ok, base_version=8, server_version=10)  # tau 2: at the bound
    b = coord.offer(0, ok, base_version=7, server_version=10)  # tau 3: past it
    c = coord.offer(0, ok, base_version=11, server_version=10)  # from the future
    d = coord.offer(1, torch.tensor([1.0, float("nan"), 0.0]), base_version=10, server_version=10)
    e = coord.offer(1, torch.tensor([float("inf"), 0.0, 0.0]), base_version=10, server_version=10)
    # assert
    assert (a.accepted, a.staleness, a.bound) == (True, 2, 2)
    assert (b.accepted, b.reason) == (False, "stale")
    assert (c.accepted, c.reason, c.staleness) == (False, "future_version", -1)
    assert (d.accepted, d.reason) == (False, "non_finite")
    assert e.reason == "non_finite"
    s0, s1 = coord.stats[0], coord.stats[1]
    assert (s0.submitted, s0.accepted, dict(s0.rejected)) == (3, 1, {"stale": 1, "future_version": 1})
    assert (s1.submitted, s1.accepted, dict(s1.rejected)) == (2, 0, {"non_finite": 2})
    assert coord.pending_workers == [0]
    summary = coord.summary()
    assert summary["submitted"] == 5 and summary["accepted"] == 1
    assert summary["acceptance_rate"] == pytest.approx(0.2)


def _paced(coord: BoundedAsyncCoordinator) -> None:
    """Worker 0 submits every second, worker 1 every 10 s (all fresh, so all accepted)."""
    for w in (0, 1):
        coord.register(w, 0.0)
    for t in (1.0, 2.0, 3.0):
        coord.offer(0, torch.ones(2), 0, 0, now=t)
    for t in (10.0, 20.0):
        coord.offer(1, torch.ones(2), 0, 0, now=t)


@pytest.mark.parametrize("adaptive", [False, True])
def test_adaptive_bound_follows_the_workers_pace(adaptive):
    coord = BoundedAsyncCoordinator(num_workers=2, max_staleness=2, adaptive_staleness=adaptive,
                                    adaptive_multiplier=1.0, buffer_size=2)
    _paced(coord)
    late = coord.offer(1, torch.ones(2), base_version=0, server_version=8, now=30.0)
    if adaptive:
        assert coord.bound_for(0) == 3  # 2 + 1.0 x 1
        assert late.bound == 12 and late.accepted  # 2 + 1.0 x (10 s / 1 s)
    else:
        assert coord.bound_for(1) == 2
        assert not late.accepted and late.reason == "stale"
        assert coord.stats[1].rejected["stale"] == 1


def test_sync_mode_has_bound_zero_even_if_adaptive():
    coord = BoundedAsyncCoordinator(num_workers=2, max_staleness=50, adaptive_staleness=True, mode="sync")
    assert coord.buffer_size == 2
    assert coord.offer(0, torch.ones(2), base_version=4, server_version=5).reason == "stale"


def test_staleness_histogram_counts_every_tau_seen():
    coord = BoundedAsyncCoordinator(num_workers=1, max_staleness=2, buffer_size=1)
    for base in (5, 5, 4, 2):  # tau 0, 0, 1, 3 (the last one rejected, still counted)
        coord.offer(0, torch.ones(2), base_version=base, server_version=5)
    st = coord.stats[0]
    assert dict(st.staleness) == {0: 2, 1: 1, 3: 1}
    assert st.to_json()["staleness_hist"] == {"0": 2, "1": 1, "3": 1}


def test_buffer_counts_distinct_workers_and_merges_repeats():
    # prepare: K = 2 of 3 workers; worker 0 is fast and submits twice before anyone else
    coord = BoundedAsyncCoordinator(num_workers=3, max_staleness=10, buffer_size=2)
    # execute / assert
    coord.offer(0, torch.tensor([1.0, 1.0]), 0, 0, n_samples=2)
    coord.offer(0, torch.tensor([3.0, 5.0]), 0, 0, n_samples=2)
    assert not coord.ready()  # two messages, but one worker
    coord.offer(1, torch.tensor([10.0, 10.0]), 0, 0, n_samples=2)
    assert coord.ready()
    fl = coord.flush()
    assert fl.worker_ids == [0, 1]
    assert fl.samples == 6
    # worker 0's input is the mean of its two; the mean rule then averages the two workers
    assert torch.allclose(fl.update, torch.tensor([(2.0 + 10.0) / 2, (3.0 + 10.0) / 2]))
    assert coord.pending_workers == [] and coord.flushes == 1
    with pytest.raises(RuntimeError, match="empty buffer"):
        coord.flush()


def test_buffer_is_flushed_through_the_configured_rule():
    # coordinate-wise median of 3 workers, f = 1: one outlier does not move the result
    coord = BoundedAsyncCoordinator(num_workers=3, max_staleness=0, buffer_size=3,
                                    aggregator=make_aggregator("median", f=1))
    coord.offer(0, torch.tensor([1.0, 2.0]), 0, 0)
    coord.offer(1, torch.tensor([1.5, 2.5]), 0, 0)
    coord.offer(2, torch.tensor([1e6, -1e6]), 0, 0)
    fl = coord.flush()
    assert torch.allclose(fl.update, torch.tensor([1.5, 2.0]))
    assert fl.info["rule"] == "median"


def test_buffer_larger_than_workers_or_rule_precondition_is_refused():
    with pytest.raises(ValueError, match="buffer_size 4 exceeds num_workers 3"):
        BoundedAsyncCoordinator(num_workers=3, buffer_size=4)
    with pytest.raises(ValueError, match="multikrum"):
        BoundedAsyncCoordinator(num_workers=4, buffer_size=4, aggregator=make_aggregator("multikrum", f=1))


def test_pending_sums_are_the_aggregators_rows_and_a_dropped_worker_leaves_no_gap():
    """The buffer holds each worker's pending sum in a row of the matrix the rule reads: after a
    worker is dropped mid-round the others' rows are still what they sent, with no gap."""
    c = BoundedAsyncCoordinator(num_workers=4, max_staleness=5, buffer_size=3)
    for w, v in ((2, 1.0), (0, 2.0), (3, 3.0)):
        c.offer(w, torch.full((4,), v), 0, 0)
    c.deactivate(0)  # the middle row's worker leaves before the flush
    assert c.pending_workers == [2, 3]
    c.offer(1, torch.full((4,), 5.0), 0, 0)
    c.offer(1, torch.full((4,), 7.0), 0, 0)  # a second update from the same worker joins its row
    res = c.flush()
    assert res.worker_ids == [2, 3, 1]
    assert torch.allclose(res.update, torch.full((4,), (1.0 + 3.0 + 6.0) / 3))
    # the next round reuses the same matrix
    rows = c._rows
    for w in (0, 1, 2):
        c.offer(w, torch.full((4,), float(w)), 1, 1)
    assert c.flush().worker_ids == [0, 1, 2] and c._rows is rows


def test_more_buffered_workers_than_k_grow_the_matrix_keeping_the_sums():
    c = BoundedAsyncCoordinator(num_workers=5, max_staleness=5, buffer_size=2, mode="sync")
    for w in range(5):  # a synchronous round over 5 workers with K = 2 rows to start with
        c.offer(w, torch.full((3,), float(w)), 0, 0)
    res = c.flush()
    assert res.worker_ids == [0, 1, 2, 3, 4] and torch.allclose(res.update, torch.full((3,), 2.0))
