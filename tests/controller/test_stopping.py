"""MainController stops on a virtual-time budget and on a target validation loss."""

from __future__ import annotations

import pytest

from dist_llm_train.controller.main_controller import MainController

BASE = {
    "model": {"name": "gpt2-tiny"},
    "data": {"corpus": "wiki", "seq_len": 16, "batch_size": 2},
    "optimizer": {"name": "sgd", "lr": 0.5},
    "network": {"preset": "multi-region", "num_workers": 2},
    "sync": {"mode": "sync"},
    "runtime": {"sim_threads": 1},
}


def _run(tmp_path, name: str, **kw):
    cfg = {**BASE, **kw}
    return MainController(cfg, run_dir=tmp_path / name, save_weights=False).run()


def test_virtual_time_budget_stops_the_run(tmp_path):
    evald = {"every_steps": 1, "max_eval_tokens": 64}
    free = _run(tmp_path, "free", max_server_steps=3, eval=evald)
    t = [p["virtual_time"] for p in free.curve]  # at steps 0..3
    assert t[1] < t[2] < t[3]
    budget = (t[2] + t[3]) / 2  # between the second and the third server step
    r = _run(tmp_path, "budget", max_server_steps=50, virtual_time_budget=budget, eval=evald)
    assert r.stopped_by == "virtual_time_budget"
    assert r.virtual_time == pytest.approx(budget)
    assert r.server_steps == 2


def test_target_loss_stops_at_the_first_evaluation_that_reaches_it(tmp_path):
    evald = {"every_steps": 1, "max_eval_tokens": 64}
    free = _run(tmp_path, "free", max_server_steps=4, eval=evald)
    losses = [p["loss"] for p in free.curve]  # step 0 (initial) .. 4
    # the first step whose loss is below every earlier one; the rerun must stop exactly there
    k = next(i for i in range(1, len(losses)) if losses[i] < min(losses[:i]))
    r = _run(tmp_path, "target", max_server_steps=4, eval={**evald, "target_loss": losses[k]})
    assert r.stopped_by == "target_loss"
    assert r.server_steps == k
    assert r.final["loss"] == pytest.approx(losses[k])
