import json
import math
from argparse import Namespace

import pytest
import torch

from dist_llm_train.aggregation import available_aggregators, make_aggregator
from dist_llm_train.aggregation import benchmark as speed
from dist_llm_train.aggregation.benchmark import largest_f
from dist_llm_train.aggregation.quality_benchmark import (
    F_INDEPENDENT,
    Setup,
    honest_rms,
    load_text,
    make_round_attack,
    plan,
    train_run,
)
from dist_llm_train.aggregation.quality_report import markdown, strongest
from dist_llm_train.attacks import AttackContext


def test_largest_f_follows_the_preconditions():
    assert largest_f("krum", 5) == 1 and largest_f("krum", 10) == 2
    assert largest_f("median", 5) == 2 and largest_f("bulyan", 10) == 1 and largest_f("bulyan", 11) == 2
    # Bulyan needs n >= 4f + 3: at n = 5 it cannot tolerate any Byzantine input, so it is not timed at f = 0
    assert largest_f("bulyan", 5) is None
    assert largest_f("mean", 10) == 0


def test_speed_benchmark_writes_every_rule_to_results_files(tmp_path):
    # prepare: a small d so that every rule runs in well under a second
    args = Namespace(d=20_000, n="5,10", rules=",".join(available_aggregators()), repeats=1, quick=False,
                     out=tmp_path)
    # execute
    assert speed.run(args) == 0
    # assert: one row per rule and n, with the fields of the table; Bulyan at n = 5 says why it is not timed
    res = json.loads((tmp_path / "results.json").read_text())
    rows = {(r["rule"], r["n"]): r for r in res["rows"]}
    assert set(rows) == {(r, n) for r in available_aggregators() for n in (5, 10)}
    for r in rows.values():
        assert {"rule", "n", "f", "seconds", "x_mean", "x_gram", "target", "met"} <= set(r)
    bulyan5 = rows[("bulyan", 5)]
    assert bulyan5["f"] is None and bulyan5["seconds"] is None and "needs n >= 7" in bulyan5["notes"]
    assert rows[("bulyan", 10)]["f"] == 1 and rows[("bulyan", 10)]["seconds"] > 0
    assert rows[("median", 10)]["target"] == "<= 3x mean" and isinstance(rows[("median", 10)]["met"], bool)
    md = (tmp_path / "results.md").read_text()
    assert "**n = 5**" in md and "| bulyan | - | - |" in md and md.count("| krum |") == 2


def test_corpus_is_real_text():
    text = load_text()
    assert len(text) > 4_000_000 and text.startswith(b"In the beginning God created")


@pytest.mark.parametrize("rule", F_INDEPENDENT)
def test_rules_listed_as_f_independent_give_the_same_aggregate_at_any_f(rule):
    # the benchmark reuses their attack-free f = 0 run at every f; this must stay true
    x = torch.randn(10, 300, generator=torch.Generator().manual_seed(1))
    assert torch.equal(make_aggregator(rule, f=0)(x).update, make_aggregator(rule, f=3)(x).update)


def test_plan_runs_each_attack_free_configuration_once():
    jobs = plan(["mean", "krum", "median", "bulyan"], ["zero"], [0, 1, 3], noise_seeds=2, seed=0)
    assert jobs[:3] == [(0, "mean", "none", 0), (1, "mean", "none", 0), (2, "mean", "none", 0)]
    clean = [j for j in jobs if j[2] == "none" and j[0] == 0]
    # krum's result depends on f; median's and mean's do not; bulyan is infeasible at f = 3 with n = 10
    assert sorted(clean) == sorted([(0, "mean", "none", 0), (0, "krum", "none", 0), (0, "median", "none", 0),
                                    (0, "bulyan", "none", 0), (0, "krum", "none", 1), (0, "krum", "none", 3),
                                    (0, "bulyan", "none", 1)])
    assert (0, "bulyan", "zero", 3) not in jobs and (0, "bulyan", "zero", 1) in jobs
    assert len(jobs) == len(set(jobs))


def test_noise_attacks_are_scaled_to_the_honest_gradients():
    honest = 0.01 * torch.randn(8, 4000, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    atk = make_round_attack("gaussian", honest, attack_scale=10.0)
    sent = atk.apply(honest[0], AttackContext(generator=g))
    assert float(sent.std()) == pytest.approx(10 * honest_rms(honest), rel=0.05)
    assert make_round_attack("random", honest, 10.0).scale == pytest.approx(10 * honest_rms(honest))
    assert make_round_attack("scaled", honest, 10.0).scale == 10.0  # not a noise attack: its default


@pytest.mark.slow
def test_a_short_attacked_run_trains_a_real_model():
    # prepare: 3 warm-up and 3 measured steps of a tiny GPT-2 with 2 sign-flipping workers out of 10, median
    setup = Setup(steps=3, batch=2, context=16, width=32, layers=1, lr=0.03, eval_batches=1, seed=0, warm_steps=3)
    # execute
    r = train_run(setup, "median", "sign_flip", 2)
    # assert: a finite loss below the untrained ln(256) ~ 5.55, and filtering statistics in range
    assert math.isfinite(r["loss"]) and r["loss"] < 5.55 and r["diverged_at"] is None
    assert 0 <= r["filtered_byzantine"] <= 1 and 0 <= r["filtered_honest"] <= 1


def _r(rule, attack, f, loss, seed=0, fb=None, fh=0.0):
    return {"rule": rule, "attack": attack, "f": f, "seed": seed, "loss": loss, "initial_loss": 2.5,
            "filtered_byzantine": fb, "filtered_honest": fh}


def test_strongest_attack_is_named_only_above_the_noise():
    assert strongest({"zero": 1.05, "ipm": 1.50}, clean=1.00, band=0.04) == "ipm (+0.500)"
    assert strongest({"zero": 1.02, "ipm": 1.03}, clean=1.00, band=0.04).startswith("none above noise")
    assert strongest({"zero": 1.02, "scaled": math.inf}, clean=1.00, band=0.04) == "scaled"
    assert strongest({"zero": 1.30}, clean=1.00, band=None).startswith("not judged")


def test_markdown_tables_show_noise_damage_and_filtering():
    setup = Setup(steps=1, batch=1, context=8, width=8, layers=1, lr=1e-3, eval_batches=1, seed=0)
    results = [_r("mean", "none", 0, 2.0), _r("mean", "none", 0, 2.02, seed=1), _r("mean", "none", 0, 1.99, seed=2),
               _r("mean", "zero", 1, 2.02, fb=0.0), _r("mean", "ipm", 1, 3.0, fb=0.0),
               _r("krum", "none", 0, 2.1, fh=0.9), _r("krum", "none", 1, 2.2, fh=0.9),
               _r("krum", "zero", 1, 2.22, fb=1.0, fh=0.89), _r("krum", "ipm", 1, float("nan"), fb=0.5, fh=0.9)]
    md = markdown(results, setup, ["zero", "ipm"], ["mean", "krum"], [0, 1])
    assert "noise = 0.010" in md and "0.020" in md
    assert "| mean | 1.000 | 1.010 | 1.500 | ipm (+0.500) |" in md
    # krum's own attack-free score at f = 1 (1.100) is the reference for its damage
    assert "| krum | 1.100 | 1.110 | diverged | ipm |" in md
    assert "| krum | 100/89 | 50/90 |" in md and "| mean | 0/0 | 0/0 |" in md
