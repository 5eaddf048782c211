"""ServerOptimizer against torch.optim on the same gradients; warm-up, cosine and weight decay."""

from __future__ import annotations

import math

import pytest
import torch

from dist_llm_train.config.schema import OptimizerConfig
from dist_llm_train.sync import ServerOptimizer

D = 64
STEPS = 6


def _grads(seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(D, generator=g) for _ in range(STEPS)]


def _torch_reference(name: str, lr: float, wd: float, p0: torch.Tensor, grads) -> torch.Tensor:
    p = torch.nn.Parameter(p0.clone())
    if name == "sgd":
        opt = torch.optim.SGD([p], lr=lr, weight_decay=wd)
    elif name == "momentum":
        opt = torch.optim.SGD([p], lr=lr, momentum=0.9, weight_decay=wd)
    elif name == "nesterov":
        opt = torch.optim.SGD([p], lr=lr, momentum=0.9, nesterov=True, weight_decay=wd)
    elif name == "adam":
        opt = torch.optim.Adam([p], lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)
    else:
        opt = torch.optim.AdamW([p], lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)
    for g in grads:
        p.grad = g.clone()
        opt.step()
    return p.detach()


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adam", "adamw"])
@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_matches_torch_optim_on_same_gradients(name, wd):
    # prepare
    p0 = torch.randn(D, generator=torch.Generator().manual_seed(1))
    grads = _grads()
    cfg = OptimizerConfig(name=name, lr=0.05, momentum=0.9, weight_decay=wd)
    opt = ServerOptimizer(D, cfg)
    params = p0.clone()
    # execute
    for g in grads:
        opt.step(params, g)
    ref = _torch_reference(name, 0.05, wd, p0, grads)
    # assert
    assert torch.allclose(params, ref, atol=1e-6, rtol=1e-5), float((params - ref).abs().max())
    assert not torch.allclose(params, p0)


def test_warmup_is_linear_then_constant():
    opt = ServerOptimizer(D, OptimizerConfig(name="sgd", lr=0.4, warmup_steps=4))
    assert [opt.lr_at(s) for s in range(6)] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.4, 0.4])


def test_cosine_schedule_values_after_warmup():
    cfg = OptimizerConfig(name="sgd", lr=1.0, warmup_steps=10, schedule="cosine", min_lr_ratio=0.1)
    opt = ServerOptimizer(D, cfg, total_steps=110)
    assert opt.lr_at(0) == pytest.approx(0.1)
    assert opt.lr_at(10) == pytest.approx(1.0)
    assert opt.lr_at(35) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.25)))
    assert opt.lr_at(60) == pytest.approx(0.55)
    assert opt.lr_at(110) == pytest.approx(0.1)
    assert opt.lr_at(500) == pytest.approx(0.1)  # stays at the floor past the end


def test_step_uses_the_schedule_and_the_lr_scale():
    opt = ServerOptimizer(D, OptimizerConfig(name="sgd", lr=0.4, warmup_steps=4))
    params = torch.zeros(D)
    g = torch.ones(D)
    lrs = [opt.step(params, g, lr_scale=0.5) for _ in range(3)]
    assert lrs == pytest.approx([0.05, 0.1, 0.15])
    assert torch.allclose(params, torch.full((D,), -0.3))


@pytest.mark.parametrize(("name", "factor"), [("sgd", 1.0), ("momentum", 1.0), ("nesterov", 1.9), ("adamw", 1.0)])
def test_weight_decay_alone_shrinks_parameters(name, factor):
    # a zero gradient leaves only the decay: p <- p (1 - lr wd); Nesterov's first step looks ahead by
    # the momentum (0.9) as well, so it decays by 1 - lr wd (1 + 0.9)
    opt = ServerOptimizer(D, OptimizerConfig(name=name, lr=0.1, weight_decay=0.5, momentum=0.9))
    p0 = torch.randn(D, generator=torch.Generator().manual_seed(3))
    params = p0.clone()
    opt.step(params, torch.zeros(D))
    assert torch.allclose(params, p0 * (1 - 0.1 * 0.5 * factor), atol=1e-7)


def test_adam_weight_decay_is_coupled_l2():
    # Adam (not AdamW) puts wd * p into the gradient, so the first normalised step is lr * sign(p)
    opt = ServerOptimizer(D, OptimizerConfig(name="adam", lr=0.01, weight_decay=0.5))
    p0 = torch.randn(D, generator=torch.Generator().manual_seed(4))
    params = p0.clone()
    opt.step(params, torch.zeros(D))
    assert torch.allclose(params, p0 - 0.01 * torch.sign(p0), atol=1e-6)
