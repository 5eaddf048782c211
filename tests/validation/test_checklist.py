import math

import pytest

from dist_llm_train.errors import ConfigError
from dist_llm_train.validation import checklist as ck
from dist_llm_train.validation.checklist import ChecklistItem, check_specs, evaluate_checklist, holds


def test_holds_never_passes_a_missing_or_non_finite_number():
    assert holds(1.0, "<", 2.0) and not holds(2.0, "<", 2.0) and holds(2.0, "<=", 2.0)
    assert not holds(None, "<", 2.0)
    assert not holds(math.nan, "<", 2.0)
    assert not holds(math.inf, ">", 2.0)


def test_perplexity_within_is_relative_to_baseline(baseline, experimental):
    item = ck.perplexity_within(baseline, experimental, threshold=0.10)
    assert item.measured == pytest.approx(math.exp(0.05) - 1)  # exp(3.05) / exp(3.0) - 1
    assert item.passed and item.comparison == "<=" and item.unit == "relative"
    assert item.inputs == {"baseline": math.exp(3.0), "experimental": math.exp(3.05)}
    assert not ck.perplexity_within(baseline, experimental, threshold=0.05).passed


def test_final_loss_within(baseline, experimental):
    item = ck.final_loss_within(baseline, experimental, threshold=0.01)
    assert item.measured == pytest.approx(3.05 / 3.0 - 1) and not item.passed
    assert ck.final_loss_within(baseline, experimental, threshold=0.02).passed


def test_mlm_accuracy_within_measures_a_relative_drop(baseline, experimental):
    baseline.final["mlm_accuracy"] = 0.60
    experimental.final["mlm_accuracy"] = 0.58
    item = ck.mlm_accuracy_within(baseline, experimental, threshold=0.05)
    assert item.measured == pytest.approx(1 - 0.58 / 0.60) and item.passed
    experimental.final["mlm_accuracy"] = 0.56
    assert not ck.mlm_accuracy_within(baseline, experimental, threshold=0.05).passed


def test_missing_metric_fails_with_a_reason(baseline, experimental):
    item = ck.mlm_accuracy_within(baseline, experimental)
    assert item.measured is None and not item.passed and "missing" in item.detail


def test_no_divergence(baseline, experimental):
    item = ck.no_divergence(baseline, experimental)
    assert item.passed and item.measured == 3.05 and item.threshold == 5.0
    experimental.stopped_by = "events_exhausted"
    item = ck.no_divergence(baseline, experimental)
    assert not item.passed and "events_exhausted" in item.detail
    experimental.stopped_by = "max_samples"
    experimental.final["loss"] = float("nan")
    item = ck.no_divergence(baseline, experimental)
    assert not item.passed and "final loss is nan" in item.detail
    experimental.final["loss"] = 5.5
    assert not ck.no_divergence(baseline, experimental).passed


def test_acceptance_items(baseline, experimental):
    item = ck.acceptance_above(baseline, experimental, threshold=0.80)
    assert item.measured == pytest.approx(33 / 40) and item.passed
    assert not ck.acceptance_above(baseline, experimental, threshold=0.825).passed
    assert ck.acceptance_above(baseline, experimental, threshold=0.825, inclusive=True).passed
    starved = ck.no_worker_starved(baseline, experimental, min_acceptance=0.25)
    assert starved.measured == pytest.approx(0.2) and not starved.passed and "edge-2" in starved.detail
    assert ck.no_worker_starved(baseline, experimental).passed  # every honest worker had one accepted
    edge = ck.region_acceptance_above(baseline, experimental, region="edge", threshold=0.10)
    assert edge.measured == pytest.approx(0.2) and edge.passed
    typo = ck.region_acceptance_above(baseline, experimental, region="edge-device")
    assert not typo.passed and "regions of this run: edge, us" in typo.detail
    experimental.summary["workers"][2].update(submitted=0, accepted=0)
    silent = ck.region_acceptance_above(baseline, experimental, region="edge")
    assert silent.measured is None and not silent.passed and "submitted no update" in silent.detail


def test_bandwidth_reductions_name_their_measure(baseline, experimental):
    up = ck.uplink_reduction_above(baseline, experimental, threshold=10)
    assert up.measured == pytest.approx(20.0) and up.passed and "bytes up" in up.name
    total = ck.total_reduction_above(baseline, experimental, threshold=10)
    assert total.measured == pytest.approx(320_000 / 88_000) and not total.passed and "up + down" in total.name


def test_bytes_per_worker_hour_and_projection(baseline, experimental):
    item = ck.bytes_per_worker_hour_below(baseline, experimental, threshold_gb=10)
    assert item.measured == pytest.approx(2.2e-5) and item.passed
    proj = ck.bytes_per_worker_hour_projected_below(baseline, experimental, params=1_000_000_000, threshold_gb=0.02)
    assert proj.measured == pytest.approx(2.2e-5 * 1000) and not proj.passed


def test_projection_scales_bytes_and_the_slowest_workers_own_time(baseline, run_builder):
    # prepare: two workers over 8 Mbps (1 MB/s) links, 100 s of virtual time; worker 1 moved 30 MB
    # (30 s of serialization) and computed for 20 s, worker 0 moved 10 MB and computed for 5 s
    curve = [(0, 0, 0.0, 0, 0, 5.0), (10, 80, 100.0, 20_000_000, 20_000_000, 4.0)]
    workers = [{"submitted": 10, "accepted": 10, "bytes_up": 5_000_000, "bytes_down": 5_000_000, "compute_time": 5.0},
               {"submitted": 10, "accepted": 10, "bytes_up": 15_000_000, "bytes_down": 15_000_000,
                "compute_time": 20.0}]
    run = run_builder("wan", curve, workers, num_params=1_000_000)
    run.config["network"] = {"preset": "custom", "workers": [{"name": "w", "bandwidth": 8.0, "latency": 10.0,
                                                              "count": 2}]}
    # execute: 10x the parameters
    item = ck.bytes_per_worker_hour_projected_below(baseline, run, params=10_000_000, threshold_gb=10)
    # assert: the run lasts at least 10 x (20 + 30) = 500 s, so worker 1 moves 300 MB in 500 s
    assert item.inputs["projected_virtual_time"] == pytest.approx(500.0)
    assert item.measured == pytest.approx(0.3 / (500 / 3600))
    # without a rebuildable topology the bound holds the step rate: 300 MB in 100 s
    del run.config["network"]
    held = ck.bytes_per_worker_hour_projected_below(baseline, run, params=10_000_000, threshold_gb=10)
    assert held.measured == pytest.approx(0.3 / (100 / 3600)) and "held fixed" in held.detail


def test_byzantine_filtering(baseline, experimental):
    det, fp = ck.byzantine_filtered(baseline, experimental, threshold=0.8, max_false_positive_rate=0.05)
    assert det.measured == pytest.approx(4 / 5) and det.passed
    assert fp.measured == pytest.approx(1 / 28) and fp.passed
    assert not ck.byzantine_filtered(baseline, experimental, threshold=1.0)[0].passed
    none = ck.byzantine_filtered(baseline, baseline)[0]
    assert none.measured is None and not none.passed and "nothing to detect" in none.detail


def test_to_target_items(baseline, experimental):
    samples = ck.samples_to_target_within(baseline, experimental, threshold=0.20)
    assert samples.inputs["baseline"] == pytest.approx(310.4)
    assert samples.measured == pytest.approx((400 + 80 * 0.14 / 0.15) / 310.4 - 1) and not samples.passed
    time = ck.time_to_target_within(baseline, experimental, threshold=0.20)
    assert time.measured == pytest.approx((2400 + 1200 * 0.14 / 0.15) / 3492 - 1) and time.passed
    steps = ck.steps_to_target_within(baseline, experimental, threshold=0.20, target_loss=3.5)
    assert steps.inputs["baseline"] == pytest.approx(7.5) and steps.inputs["experimental"] == pytest.approx(17.5)
    never = ck.steps_to_target_within(baseline, experimental, target_loss=2.0)
    assert never.measured is None and not never.passed and "never reached" in never.detail


def test_specs_are_checked_before_anything_runs():
    check_specs([{"item": "perplexity_within", "threshold": 0.1}, {"item": "region_acceptance_above",
                                                                    "region": "edge"}])
    with pytest.raises(ConfigError, match="unknown checklist item 'perplexity_whithin'"):
        check_specs([{"item": "perplexity_whithin"}])
    with pytest.raises(ConfigError, match="no parameter tolerance; allowed: threshold"):
        check_specs([{"item": "perplexity_within", "tolerance": 0.1}])
    with pytest.raises(ConfigError, match="needs region"):
        check_specs([{"item": "region_acceptance_above"}])
    with pytest.raises(ConfigError, match="needs params"):
        check_specs([{"item": "bytes_per_worker_hour_projected_below", "threshold_gb": 10}])
    with pytest.raises(ConfigError, match="'item' key"):
        check_specs([{"threshold": 0.1}])


def test_evaluate_checklist_flattens_multi_item_specs(baseline, experimental):
    items = evaluate_checklist([
        {"item": "perplexity_within", "threshold": 0.10},
        {"item": "byzantine_filtered", "threshold": 0.8, "max_false_positive_rate": 0.05},
        {"item": "uplink_reduction_above", "threshold": 20.0, "inclusive": True},
    ], baseline, experimental)
    assert [i.passed for i in items] == [True, True, True, True]
    assert ck.all_passed(items) and not ck.all_passed([])
    assert ChecklistItem.from_json(items[0].to_json()) == items[0]


def test_reduction_at_quality_counts_only_within_the_perplexity_bound(baseline, experimental):
    # uplink 160,000 -> 8,000 bytes (20x); perplexity e^3.05 vs e^3.0: +5.13%
    ok = ck.uplink_reduction_at_quality(baseline, experimental, threshold=10, max_perplexity_change=0.10)
    assert ok.passed and ok.measured == pytest.approx(20.0) and ok.comparison == ">="
    assert ok.inputs["perplexity_change"] == pytest.approx(math.exp(0.05) - 1)
    worse = ck.uplink_reduction_at_quality(baseline, experimental, threshold=10, max_perplexity_change=0.05)
    assert not worse.passed and worse.measured == pytest.approx(20.0) and "does not count" in worse.detail
    short = ck.uplink_reduction_at_quality(baseline, experimental, threshold=30, max_perplexity_change=0.10)
    assert not short.passed and "30x at perplexity within 10%" in short.name
    exact = ck.uplink_reduction_at_quality(baseline, experimental, threshold=20, max_perplexity_change=0.10)
    assert exact.passed  # inclusive by default: "at least 20x"
    evaluate_checklist([{"item": "uplink_reduction_at_quality", "threshold": 400.0}], baseline, experimental)
