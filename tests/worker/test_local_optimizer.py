"""The inner (DiLoCo) optimizer: its lr schedule, and the planned span the run gives it."""

import math

import pytest
import torch

from dist_llm_train.config import load_config
from dist_llm_train.controller.assembly import build_worker, local_steps_by_version, planned_local_steps
from dist_llm_train.errors import ConfigError
from dist_llm_train.layout import ParamLayout
from dist_llm_train.models import build_model
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


def test_state_dict_carries_the_schedule_place_apart_from_adams_count():
    kw = {"warmup_steps": 1, "schedule": "cosine", "total_steps": 8}
    one = FlatLocalOptimizer(2, "adamw", lr=1e-2, **kw)
    p = torch.zeros(2)
    for _ in range(3):
        one.step(p, torch.tensor([1.0, -1.0]))
    two = FlatLocalOptimizer(2, "adamw", lr=1e-2, **kw)
    two.load_state_dict({k: v.clone() for k, v in one.state_dict("w").items()}, "w")
    assert two.schedule_step == two.t == 3 and two.lr_at(two.schedule_step) == one.lr_at(3) < 1e-2
    fresh = FlatLocalOptimizer(2, "adamw", lr=1e-2, **kw)
    fresh.schedule_step = 3  # a restarted worker: its place on the schedule, fresh moments
    q = torch.zeros(2)
    fresh.step(q, torch.tensor([1.0, -1.0]))
    assert fresh.t == 1 and fresh.schedule_step == 4
    assert torch.allclose(q.abs(), torch.full((2,), one.lr_at(3)), rtol=1e-4)  # bias-corrected first step


def test_unknown_schedule_is_refused():
    with pytest.raises(ValueError, match="allowed: constant, cosine"):
        FlatLocalOptimizer(1, "sgd", schedule="linear")


def _cfg(**kw):
    return load_config({"model": {"name": "gpt2-tiny"}, "data": {"batch_size": 4},
                        "network": {"preset": "lan", "num_workers": 5}, **kw})


def test_planned_local_steps_is_a_workers_share_of_the_budget():
    diloco = {"local_steps": 4, "local_schedule": "cosine"}
    # sync (K = n): every worker takes part in every server step, H local steps each
    sync = _cfg(sync={"mode": "sync"}, max_server_steps=30, max_samples=None, worker=diloco)
    assert planned_local_steps(sync, 5) == 120
    # ... unless the sample budget ends the run first: 1200 samples / (5 workers x 4) = 60 batches
    budget = _cfg(sync={"mode": "sync"}, max_server_steps=60, max_samples=1200, worker=diloco)
    assert planned_local_steps(budget, 5) == 60
    assert planned_local_steps(budget, 5, sample_budget=False) == 240  # a run that ignores max_samples
    # async, one update a server step: each worker is in 1 of 5 steps
    async1 = _cfg(sync={"mode": "async", "buffer_size": 1}, max_server_steps=200, max_samples=None, worker=diloco)
    assert planned_local_steps(async1, 5) == 40 * 4
    assert local_steps_by_version(async1, 5, 10) == 2 * 4


def test_the_config_reaches_each_workers_inner_optimizer():
    cfg = _cfg(sync={"mode": "sync"}, max_server_steps=10, max_samples=None,
               worker={"local_steps": 3, "local_schedule": "cosine", "local_warmup_steps": 2,
                       "local_min_lr_ratio": 0.2})
    built = build_model("gpt2-tiny", init="random")
    layout = ParamLayout.from_module(built.module)
    w = build_worker(cfg, 0, built.module, layout, next_batch=None, byzantine=False, n=5)
    opt = w.local_opt
    assert (opt.schedule, opt.warmup_steps, opt.min_lr_ratio) == ("cosine", 2, 0.2)
    assert opt.total_steps == planned_local_steps(cfg, 5) == 30


def test_a_local_schedule_without_local_steps_is_refused():
    with pytest.raises(ConfigError, match="worker.local_schedule.*local_steps is 1"):
        _cfg(worker={"local_schedule": "cosine"})


def test_a_bad_local_schedule_in_the_config_names_the_field():
    with pytest.raises(ConfigError, match="worker.local_schedule"):
        load_config({"model": {"name": "gpt2-tiny"}, "worker": {"local_schedule": "linear"}})


def _noisy_adam_steps(k: float, signal: float, noise: float, steps: int = 200) -> float:
    """Mean displacement per step of one coordinate whose gradient is signal + N(0, noise^2)."""
    gen = torch.Generator().manual_seed(0)
    opt = FlatLocalOptimizer(1, "adamw", lr=1e-3, noise_divisor=k)
    p = torch.zeros(1)
    for _ in range(steps):
        opt.step(p, torch.full((1,), signal) + noise * torch.randn(1, generator=gen))
    return -float(p) / steps


def test_noise_divisor_one_is_plain_adamw():
    g = torch.tensor([0.3, -2.0, 1e-3])
    a, b = torch.zeros(3), torch.zeros(3)
    plain, one = FlatLocalOptimizer(3, "adamw", lr=1e-2), FlatLocalOptimizer(3, "adamw", lr=1e-2, noise_divisor=1)
    for i in range(5):
        plain.step(a, g * (i + 1))
        one.step(b, g * (i + 1))
    assert torch.equal(a, b)


def test_averaged_second_moment_lengthens_low_snr_steps_toward_the_averaged_adams():
    """Signal 0.1 under noise 1.0: own-v Adam steps ~ lr * 0.1 / 1.0; an Adam on the mean of 5 such
    gradients (noise 1 / sqrt(5)) takes steps ~ sqrt(5) longer, which k = 5 should approach."""
    own, avg = _noisy_adam_steps(1, 0.1, 1.0), _noisy_adam_steps(5, 0.1, 1.0)
    assert 1.6 < avg / own < 2.6  # sqrt(5) = 2.24
    # with no noise the rescaling changes nothing: v = m^2 = g^2 either way
    assert _noisy_adam_steps(5, 0.1, 0.0) == pytest.approx(_noisy_adam_steps(1, 0.1, 0.0), rel=1e-3)


def test_a_noise_divisor_below_one_is_refused():
    with pytest.raises(ValueError, match="noise_divisor must be >= 1"):
        FlatLocalOptimizer(1, "adamw", noise_divisor=0.5)


def test_averaged_second_moment_uses_the_updates_a_server_step_averages():
    built = build_model("gpt2-tiny", init="random")
    layout = ParamLayout.from_module(built.module)

    def divisor(cfg):
        return build_worker(cfg, 0, built.module, layout, next_batch=None, byzantine=False, n=5).local_opt.noise_divisor

    averaged = {"local_steps": 2, "local_second_moment": "averaged"}
    assert divisor(_cfg(sync={"mode": "sync"}, worker=averaged)) == 5
    # a robust rule sets f of the buffer's updates aside
    assert divisor(_cfg(sync={"mode": "async", "buffer_size": 5}, aggregation={"rule": "multikrum", "f": 1},
                        worker=averaged)) == 4
    assert divisor(_cfg(sync={"mode": "sync"}, worker={"local_steps": 2})) == 1


def test_averaged_second_moment_without_local_steps_is_refused():
    with pytest.raises(ConfigError, match="worker.local_second_moment.*local_steps is 1"):
        _cfg(worker={"local_second_moment": "averaged"})
