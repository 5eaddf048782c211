import math

import pytest

from dist_llm_train.aggregation.benchmark import largest_f
from dist_llm_train.aggregation.quality_benchmark import Setup, load_text, markdown, train_run


def test_largest_f_follows_the_preconditions():
    assert largest_f("krum", 5) == 1 and largest_f("krum", 10) == 2
    assert largest_f("bulyan", 5) == 0 and largest_f("bulyan", 10) == 1
    assert largest_f("mean", 10) == 0


def test_corpus_is_real_text():
    text = load_text()
    assert len(text) > 4_000_000 and text.startswith(b"In the beginning God created")


@pytest.mark.slow
def test_a_short_attacked_run_trains_a_real_model():
    # prepare: 3 steps of a tiny GPT-2 with 2 sign-flipping workers out of 10, median aggregation
    setup = Setup(steps=3, batch=2, context=16, width=32, layers=1, lr=3e-3, eval_batches=1, seed=0)
    # execute
    r = train_run(setup, "median", "sign_flip", 2)
    # assert: a finite loss below the untrained ln(256) ~ 5.55, and filtering statistics in range
    assert math.isfinite(r["loss"]) and r["loss"] < 5.55
    assert 0 <= r["filtered_byzantine"] <= 1 and 0 <= r["filtered_honest"] <= 1


def test_markdown_table_names_the_strongest_attack():
    setup = Setup(steps=1, batch=1, context=8, width=8, layers=1, lr=1e-3, eval_batches=1, seed=0)
    results = [{"rule": "mean", "attack": "none", "f": 0, "loss": 2.0},
               {"rule": "mean", "attack": "zero", "f": 1, "loss": 2.2},
               {"rule": "mean", "attack": "ipm", "f": 1, "loss": 3.0}]
    md = markdown(results, 2.0, setup, ["zero", "ipm"], ["mean"], [0, 1])
    assert "| mean | 1.10 | 1.50 | ipm |" in md and "| mean | 1.00 |" in md
