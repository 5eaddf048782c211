"""Per-worker accounting: submitted, accepted, rejected, bytes, samples, and filtering scored against
the ground truth of which workers are Byzantine."""

from __future__ import annotations

import pytest
import torch

from dist_llm_train.aggregation import make_aggregator
from dist_llm_train.sync import BoundedAsyncCoordinator
from dist_llm_train.sync.accounting import WorkerStats, filtering_summary


def _round(coord: BoundedAsyncCoordinator, version: int, gen: torch.Generator, stale_worker: int | None = None):
    for w in range(5):
        honest = torch.ones(16) + 0.01 * torch.randn(16, generator=gen)
        update = -50.0 * honest if w == 4 else honest  # worker 4 is Byzantine: a scaled sign flip
        base = version - 3 if w == stale_worker else version
        coord.offer(w, update, base, version, n_samples=2, wire_bytes=100 + w)
    return coord.flush()


def test_per_worker_accounting_against_ground_truth():
    # prepare: 5 workers, worker 4 Byzantine, Multi-Krum f = 1 over all 5
    coord = BoundedAsyncCoordinator(num_workers=5, max_staleness=1, buffer_size=5,
                                    aggregator=make_aggregator("multikrum", f=1), byzantine_ids=[4])
    gen = torch.Generator().manual_seed(0)
    # execute: two rounds; in the second, worker 2's update is stale and rejected
    _round(coord, 0, gen)
    coord.offer(2, torch.ones(16), 0, 1, n_samples=2, wire_bytes=102)  # an extra, fresh-enough message
    fl = _round(coord, 1, gen, stale_worker=2)
    # assert
    assert 4 not in [w for w, t in zip(fl.worker_ids, fl.trust) if t >= 0.5]
    st = coord.stats
    assert st[4].byzantine and not st[0].byzantine
    assert (st[0].submitted, st[0].accepted, st[0].samples, st[0].bytes_up) == (2, 2, 4, 200)
    assert (st[2].submitted, st[2].accepted, dict(st[2].rejected)) == (3, 2, {"stale": 1})
    assert st[2].bytes_up == 3 * 102  # rejected messages were still received
    assert st[4].aggregations == 2 and st[4].filtered == 2
    assert all(st[w].filtered == 0 and st[w].aggregations == 2 for w in range(4))
    flt = coord.summary()["filtering"]
    assert flt == {"byzantine_inputs": 2, "honest_inputs": 8, "true_positives": 2, "false_positives": 0,
                   "detection_rate": 1.0, "false_positive_rate": 0.0}
    w4 = coord.summary()["workers"][4]
    assert w4["mean_trust"] == 0.0 and w4["byzantine"] is True


def test_false_positives_count_honest_inputs_filtered():
    honest = WorkerStats(0, aggregations=4, filtered=1)
    byz = WorkerStats(1, byzantine=True, aggregations=4, filtered=3)
    s = filtering_summary([honest, byz])
    assert (s["true_positives"], s["false_positives"]) == (3, 1)
    assert s["detection_rate"] == pytest.approx(0.75)
    assert s["false_positive_rate"] == pytest.approx(0.25)
    assert filtering_summary([honest])["detection_rate"] is None  # no Byzantine worker: nothing to detect


def test_stats_survive_a_json_round_trip():
    coord = BoundedAsyncCoordinator(num_workers=2, max_staleness=0, buffer_size=1)
    coord.offer(0, torch.ones(2), 0, 1, wire_bytes=7)
    coord.record_compute(0, 0.25)
    coord.offer(1, torch.ones(2), 1, 1, wire_bytes=9)
    restored = BoundedAsyncCoordinator(num_workers=2, max_staleness=0, buffer_size=1)
    restored.load_state_dict(coord.state_dict())
    assert restored.summary() == coord.summary()
    assert restored.stats[0].compute_time == 0.25
    with pytest.raises(ValueError, match="compute time"):
        coord.record_compute(0, float("nan"))
