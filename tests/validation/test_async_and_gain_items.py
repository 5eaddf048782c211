"""The items that say whether a run was really asynchronous, whether async was faster than sync on
the same workers, and how much of the baseline's gain over the starting model the system kept:
computed from hand-made runs, passing and failing."""

import math

import pytest

from dist_llm_train.errors import ConfigError
from dist_llm_train.validation import checklist as cl


def _lm(run_builder, name, losses, accepted_staleness=None, mode="async", times=None):
    """A causal-LM run whose curve has these losses at steps 0, 5, 10, ... (perplexity = exp(loss))."""
    times = times or [100.0 * i for i in range(len(losses))]
    curve = [(5 * i, 20 * 5 * i, times[i], 1000 * i, 1000 * i, loss) for i, loss in enumerate(losses)]
    acc = accepted_staleness or {0: 10}
    workers = [{"submitted": sum(acc.values()), "accepted": sum(acc.values()), "staleness": dict(acc),
                "accepted_staleness": dict(acc), "bytes_up": 1000, "bytes_down": 1000}]
    return run_builder(name, curve, workers, mode=mode)


def test_gain_retained_is_the_share_of_the_baselines_improvement(run_builder):
    before, base_after = math.log(30.0), math.log(24.0)
    base = _lm(run_builder, "baseline", [before, base_after])
    good = _lm(run_builder, "experimental", [before, math.log(25.0)])  # gained 5 of the baseline's 6
    item = cl.gain_retained(base, good, threshold=0.75)
    assert item.passed and item.measured == pytest.approx(5 / 6)
    poor = _lm(run_builder, "experimental", [before, math.log(28.0)])  # 2 of 6
    item = cl.gain_retained(base, poor, threshold=0.75)
    assert not item.passed and item.measured == pytest.approx(1 / 3)
    worse = _lm(run_builder, "experimental", [before, math.log(31.0)])  # got worse than the start
    assert cl.gain_retained(base, worse).measured < 0 and not cl.gain_retained(base, worse).passed


def test_gain_retained_fails_when_the_baseline_learned_nothing(run_builder):
    base = _lm(run_builder, "baseline", [3.0, 3.01])
    item = cl.gain_retained(base, _lm(run_builder, "experimental", [3.0, 2.9]))
    assert not item.passed and item.measured is None and "no gain to retain" in item.detail


def test_gain_retained_for_accuracy_counts_a_rise(run_builder):
    curve = [(0, 0, 0.0, 0, 0, 5.0), (10, 200, 10.0, 10, 10, 4.0)]
    workers = [{"submitted": 1, "accepted": 1, "bytes_up": 1, "bytes_down": 1}]
    base = run_builder("baseline", curve, workers, kind="mlm", mlm_accuracy=[0.05, 0.25])
    exp = run_builder("experimental", curve, workers, kind="mlm", mlm_accuracy=[0.05, 0.22])
    item = cl.gain_retained(base, exp, threshold=0.75, metric="mlm_accuracy")
    assert item.passed and item.measured == pytest.approx(0.85)
    with pytest.raises(ConfigError):
        cl.gain_retained(base, exp, metric="bleu")


def test_baseline_improves_and_baseline_floor(run_builder):
    base = _lm(run_builder, "baseline", [math.log(30.0), math.log(24.0)])
    item = cl.baseline_improves(base, base, threshold=0.10)
    assert item.passed and item.measured == pytest.approx(0.2)
    assert not cl.baseline_improves(base, base, threshold=0.25).passed
    curve = [(0, 0, 0.0, 0, 0, 5.0), (10, 200, 10.0, 10, 10, 4.0)]
    workers = [{"submitted": 1, "accepted": 1, "bytes_up": 1, "bytes_down": 1}]
    mlm = run_builder("baseline", curve, workers, kind="mlm", mlm_accuracy=[0.05, 0.19])
    assert not cl.baseline_metric_above(mlm, mlm, metric="mlm_accuracy", threshold=0.20).passed
    assert cl.baseline_metric_above(mlm, mlm, metric="mlm_accuracy", threshold=0.15).passed


def test_asynchrony_exercised_counts_accepted_stale_updates(run_builder):
    base = _lm(run_builder, "baseline", [5.0, 4.0], mode="sync")
    real = _lm(run_builder, "experimental", [5.0, 4.0], accepted_staleness={0: 6, 1: 3, 2: 1})
    item = cl.asynchrony_exercised(base, real, threshold=0.30)
    assert item.passed and item.measured == pytest.approx(0.4) and "4 of 10" in item.detail
    lockstep = _lm(run_builder, "experimental", [5.0, 4.0], accepted_staleness={0: 300})
    item = cl.asynchrony_exercised(base, lockstep, threshold=0.30)
    assert not item.passed and item.measured == 0.0
    barely = _lm(run_builder, "experimental", [5.0, 4.0], accepted_staleness={0: 8, 1: 2})
    assert not cl.asynchrony_exercised(base, barely, threshold=0.30).passed


def test_faster_with_async_compares_virtual_time_to_the_target(run_builder):
    base = _lm(run_builder, "baseline", [5.0, 4.0, 3.0])  # target 3.06 (final x 1.02)
    fast = _lm(run_builder, "experimental", [5.0, 3.5, 3.0], times=[0.0, 100.0, 200.0])
    slow_sync = _lm(run_builder, "sync-reference", [5.0, 4.0, 3.0], mode="sync", times=[0.0, 300.0, 600.0])
    item = cl.faster_with_async(base, fast, slow_sync, threshold=1.5)
    t_async, t_sync = item.inputs["async_virtual_time"], item.inputs["sync_virtual_time"]
    assert item.passed and item.measured == pytest.approx(t_sync / t_async) and item.measured > 3.0
    close = _lm(run_builder, "sync-reference", [5.0, 4.0, 3.0], mode="sync", times=[0.0, 120.0, 240.0])
    assert not cl.faster_with_async(base, fast, close, threshold=1.5).passed
    never = _lm(run_builder, "experimental", [5.0, 4.5, 4.2])
    item = cl.faster_with_async(base, never, slow_sync)
    assert not item.passed and "never reached it" in item.detail
    assert not cl.faster_with_async(base, fast, None).passed


def test_the_sync_run_is_supplied_by_evaluate_checklist_and_never_written_in_a_spec(run_builder):
    base = _lm(run_builder, "baseline", [5.0, 4.0, 3.0])
    fast = _lm(run_builder, "experimental", [5.0, 3.5, 3.0], times=[0.0, 100.0, 200.0])
    sync = _lm(run_builder, "sync-reference", [5.0, 4.0, 3.0], mode="sync", times=[0.0, 300.0, 600.0])
    specs = [{"item": "faster_with_async", "threshold": 1.5}]
    assert cl.needs_runs(specs[0]) == ["sync-reference"]
    [item] = cl.evaluate_checklist(specs, base, fast, {"sync-reference": sync})
    assert item.passed
    [missing] = cl.evaluate_checklist(specs, base, fast)
    assert not missing.passed and "no synchronous run" in missing.detail
    with pytest.raises(ConfigError, match="no parameter sync_run"):
        cl.check_specs([{"item": "faster_with_async", "sync_run": "x"}])
