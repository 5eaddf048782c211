"""The inner (DiLoCo) optimizer: its lr schedule, and the planned span the run gives it."""

import math

import pytest
import torch

from dist_llm_train.config import load_config
from dist_llm_train.controller.assembly import planned_local_steps
from dist_llm_train.errors import ConfigError
from dist_llm_train.worker.local_optimizer import FlatLocalOptimizer


def _sgd_displacements(opt: FlatLocalOptimizer, steps: int) -> list[float]:
    """With SGD and a unit gradient each step moves the parameter by exactly that step's lr."""
    p, g, out = torch.zeros(1), torch.ones(1), []
    for _ in range(steps):
        before = float(p)
        opt.step(p, g)
        out.append(before - float(p))
    return out


def test_constant_is_the_default_and_takes_every_step_at_lr():
    assert _sgd_displacements(FlatLocalOptimizer(1, "sgd", lr=0.5), 4) == pytest.approx([0.5] * 4)


def test_warmup_then_cosine_to_the_floor_over_the_planned_steps():
    opt = FlatLocalOptimizer(1, "sgd", lr=1.0, warmup_steps=2, schedule="cosine", total_steps=12, min_lr_ratio=0.1)
    got = _sgd_displacements(opt, 16)
    assert got[:2] == pytest.approx([0.5, 1.0])
    assert got[2] == pytest.approx(1.0)
    assert got[7] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert got[12:] == pytest.approx([0.1] * 4)  # past the plan (a fast worker) it stays at the floor
    assert all(a >= b for a, b in zip(got[1:], got[2:]))


def test_adamw_steps_scale_with_the_scheduled_lr():
    """AdamW's first step moves each coordinate by lr (bias-corrected): at the warm-up's first step
    by lr / warmup."""
    plain = FlatLocalOptimizer(3, "adamw", lr=1e-2)
    warm = FlatLocalOptimizer(3, "adamw", lr=1e-2, warmup_steps=4, schedule="cosine", total_steps=10)
    g = torch.tensor([1.0, -2.0, 0.5])
    a, b = torch.zeros(3), torch.zeros(3)
    plain.step(a, g)
    warm.step(b, g)
    assert torch.allclose(b, a / 4, rtol=1e-5)


def test_schedule_resumes_from_the_checkpointed_step_count():
    kw = {"warmup_steps": 1, "schedule": "cosine", "total_steps": 8}
    one = FlatLocalOptimizer(2, "adamw", lr=1e-2, **kw)
    p = torch.zeros(2)
    for _ in range(3):
        one.step(p, torch.tensor([1.0, -1.0]))
    two = FlatLocalOptimizer(2, "adamw", lr=1e-2, **kw)
    two.load_state_dict({k: v.clone() for k, v in one.state_dict("w").items()}, "w")
    assert two.lr_at(two.t) == one.lr_at(one.t) < 1e-2


def test_unknown_schedule_is_refused():
    with pytest.raises(ValueError, match="allowed: constant, cosine"):
        FlatLocalOptimizer(1, "sgd", schedule="linear")


def test_planned_local_steps_is_a_workers_share_of_the_budget():
    cfg = load_config({"model": {"name": "gpt2-tiny"}, "data": {"batch_size": 4}, "max_samples": 1200,
                       "worker": {"local_steps": 4, "local_schedule": "cosine"}})
    assert planned_local_steps(cfg, 5) == 60
    no_budget = load_config({"model": {"name": "gpt2-tiny"}, "max_server_steps": 30, "max_samples": None,
                             "worker": {"local_steps": 4}})
    assert planned_local_steps(no_budget, 5) == 120


def test_a_bad_local_schedule_in_the_config_names_the_field():
    with pytest.raises(ConfigError, match="worker.local_schedule"):
        load_config({"model": {"name": "gpt2-tiny"}, "worker": {"local_schedule": "linear"}})
