"""The simulator writes the same checkpoints as the gRPC server and resumes from them."""

from __future__ import annotations

import pytest

from dist_llm_train.checkpoint import CheckpointManager
from dist_llm_train.controller.main_controller import MainController
from dist_llm_train.errors import ResourceNotFoundError

BASE = {
    "model": {"name": "gpt2-tiny"},
    "data": {"corpus": "wiki", "seq_len": 16, "batch_size": 2},
    "optimizer": {"name": "sgd", "lr": 0.5},
    "network": {"preset": "lan", "num_workers": 3},
    "sync": {"mode": "sync"},
    "compression": {"codec": "topk:0.1", "error_feedback": True},
    "eval": {"every_steps": 2, "max_eval_tokens": 128},
    "checkpoint": {"every_steps": 2, "keep": 2},
    "runtime": {"sim_threads": 1},
}


def _controller(run_dir, steps: int, resume: bool = False, **kw) -> MainController:
    return MainController({**BASE, "max_server_steps": steps, **kw}, run_dir=run_dir, save_weights=False,
                          resume=resume)


def test_checkpoints_every_n_steps_keep_k_and_hold_the_simulators_state(tmp_path):
    r = _controller(tmp_path / "run", 6).run()
    assert r.server_steps == 6
    mgr = CheckpointManager(tmp_path / "run" / "checkpoints")
    kept = mgr.list()
    assert [int(p.name.split("-")[1]) for p in kept] == [6, 4]  # every 2 steps, the last 2 kept
    tensors, state = mgr.read(kept[0])
    assert state["version"] == 6
    sim = state["extra"]["sim"]
    assert sim["virtual_time"] == pytest.approx(r.virtual_time)
    assert [p["step"] for p in sim["curve"]] == [0, 2, 4, 6]
    assert all(s["batches_drawn"] == 6 for s in state["extra"]["streams"])  # one batch per worker and step
    residuals = [k for k in tensors if k.startswith("extra/worker.") and k.endswith(".residual")]
    assert len(residuals) == 3  # each worker's error-feedback residual


def test_resume_continues_clock_counters_and_data_from_the_newest_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    first = _controller(run_dir, 4).run()
    resumed = _controller(run_dir, 8, resume=True).run()
    assert "step-000000004" in resumed.extra["resumed_from"]
    assert resumed.server_steps == 8
    assert resumed.virtual_time > first.virtual_time  # the clock went on from where it stopped
    steps = [p["step"] for p in resumed.curve]
    assert steps == [0, 2, 4, 6, 8]  # the first part's curve is kept, not restarted
    assert resumed.curve[2]["loss"] == pytest.approx(first.curve[-1]["loss"])
    assert resumed.final["loss"] < resumed.curve[0]["loss"]
    # the coordinator's accounting carries on: 3 workers x 8 rounds submitted in all
    assert resumed.summary["submitted"] == 3 * 8
    _, state = CheckpointManager(run_dir / "checkpoints").read(CheckpointManager(run_dir / "checkpoints").latest())
    assert all(s["batches_drawn"] == 8 for s in state["extra"]["streams"])  # no batch drawn twice


def test_resume_without_checkpoints_says_what_to_do(tmp_path):
    with pytest.raises(ResourceNotFoundError, match="without --resume"):
        _controller(tmp_path / "empty", 2, resume=True, checkpoint={"every_steps": None}).run()


def test_resume_keeps_each_workers_place_on_the_inner_lr_schedule(tmp_path):
    """With local steps the inner lr follows its own cosine; a resumed run must not warm it up again."""
    run_dir = tmp_path / "run"
    diloco = {"worker": {"local_steps": 2, "local_schedule": "cosine", "local_warmup_steps": 1}}
    _controller(run_dir, 4, **diloco).run()
    mgr = CheckpointManager(run_dir / "checkpoints")
    tensors, _ = mgr.read(mgr.latest())
    assert [int(tensors[f"extra/worker.{w}.local.schedule_step"]) for w in range(3)] == [8, 8, 8]  # 4 rounds x 2
    _controller(run_dir, 6, resume=True, **diloco).run()
    tensors, _ = mgr.read(mgr.latest())
    assert [int(tensors[f"extra/worker.{w}.local.schedule_step"]) for w in range(3)] == [12, 12, 12]
