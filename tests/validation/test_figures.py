from collections import Counter

import pytest

from dist_llm_train.errors import PreconditionError
from dist_llm_train.validation import figures as fig


def test_nearest_rank_percentiles():
    hist = Counter({0: 10, 1: 14, 2: 8, 3: 1, 7: 2, 9: 1, 12: 4})  # 40 updates
    assert fig.percentile(hist, 0.5) == 1  # rank 20: cumulative 10, 24
    assert fig.percentile(hist, 0.9) == 9  # rank 36: cumulative ... 35 at 7, 36 at 9
    assert fig.percentile(hist, 1.0) == 12
    assert fig.percentile(hist, 0.0) == 0
    assert fig.percentile(Counter(), 0.5) is None
    with pytest.raises(PreconditionError):
        fig.percentile(hist, 1.5)


def test_staleness_summary_aggregates_every_worker_and_by_region(experimental):
    assert fig.staleness_summary(experimental) == {"count": 40, "p50": 1, "p90": 9, "max": 12,
                                                   "stale_accepted_share": None}  # no accepted histogram here
    assert fig.staleness_summary(experimental, "edge") == {"count": 5, "p50": 12, "p90": 12, "max": 12,
                                                           "stale_accepted_share": None}


def test_region_acceptance(experimental):
    reg = fig.region_acceptance(experimental)
    assert reg["edge"] == {"workers": 1, "submitted": 5, "accepted": 1, "acceptance_rate": 0.2}
    assert reg["us"]["accepted"] == 32 and reg["us"]["submitted"] == 35


def test_bytes_per_worker_per_virtual_hour(baseline, experimental):
    # one virtual hour: baseline workers sent 40 kB up + 40 kB down each
    assert fig.worker_gb_per_hour(baseline) == pytest.approx([8e-5] * 4)
    assert fig.worker_gb_per_hour(experimental) == pytest.approx([2.2e-5] * 4)


def test_compare_reductions_and_changes(baseline, experimental):
    c = fig.compare(baseline, experimental)
    assert c["uplink_reduction"] == pytest.approx(160_000 / 8_000)
    assert c["downlink_reduction"] == pytest.approx(2.0)
    assert c["total_reduction"] == pytest.approx(320_000 / 88_000)
    assert c["loss_change"] == pytest.approx(3.05 / 3.0 - 1)
    assert c["mlm_accuracy_change"] is None


def test_time_to_target_uses_baseline_final_loss_plus_margin(baseline, experimental):
    c = fig.compare(baseline, experimental)
    assert c["target_loss"] == pytest.approx(3.06)
    assert c["sample_axis"] == "samples_processed"
    # baseline 4.0 at 160 samples, 3.0 at 320: 3.06 at 160 + 0.94 * 160
    assert c["baseline_to_target"]["samples"] == pytest.approx(310.4)
    assert c["baseline_to_target"]["step"] == pytest.approx(9.7)
    assert c["baseline_to_target"]["virtual_time"] == pytest.approx(3492.0)
    # experimental 3.2 at 400, 3.05 at 480
    assert c["experimental_to_target"]["samples"] == pytest.approx(400 + 80 * 0.14 / 0.15)
    assert c["to_target_ratio"]["virtual_time"] == pytest.approx((2400 + 1200 * 0.14 / 0.15) / 3492.0)


def test_explicit_target_and_unreachable_target(baseline, experimental):
    c = fig.compare(baseline, experimental, target_loss=3.5)
    assert c["baseline_to_target"]["samples"] == pytest.approx(240.0)
    assert c["experimental_to_target"]["samples"] == pytest.approx(350.0)
    c = fig.compare(baseline, experimental, target_loss=2.0)
    assert c["baseline_to_target"]["step"] is None and c["to_target_ratio"]["step"] is None


def test_target_needs_a_finite_baseline_loss(baseline):
    baseline.final["loss"] = float("nan")
    with pytest.raises(PreconditionError, match="give target_loss"):
        fig.target_loss_for(baseline)
    assert fig.target_loss_for(baseline, target_loss=3.3) == 3.3


def test_worker_table_rows(experimental):
    rows = fig.worker_table(experimental)
    assert [r["name"] for r in rows] == ["us-0", "us-1", "edge-2", "us-3"]
    assert rows[3]["byzantine"] and not rows[0]["byzantine"]
    assert rows[2]["staleness_p50"] == 12 and rows[0]["staleness_max"] == 7
    assert rows[1]["mean_trust"] == pytest.approx(8.0 / 9)
    assert rows[0]["utilization"] == pytest.approx(0.5)


def test_run_figures(experimental):
    f = fig.run_figures(experimental)
    assert f["acceptance_rate"] == pytest.approx(33 / 40)
    assert f["bytes_total"] == 88_000
    assert f["initial_loss"] == 5.0 and f["final_loss"] == 3.05
    assert f["filtering"]["detection_rate"] == pytest.approx(0.8)
