"""With local steps (DiLoCo) the outer optimizer defaults to Nesterov, lr 0.7, momentum 0.9."""

from __future__ import annotations

from dist_llm_train.config import load_config


def test_local_steps_make_nesterov_the_default_outer_optimizer():
    opt = load_config(overrides={"worker.local_steps": 8}).optimizer
    assert (opt.name, opt.lr, opt.momentum) == ("nesterov", 0.7, 0.9)


def test_one_local_step_keeps_adamw():
    opt = load_config(overrides={"worker.local_steps": 1}).optimizer
    assert (opt.name, opt.lr) == ("adamw", 1e-3)


def test_an_explicit_optimizer_is_kept():
    opt = load_config(overrides={"worker.local_steps": 8, "optimizer.name": "adamw"}).optimizer
    assert (opt.name, opt.lr) == ("adamw", 1e-3)


def test_explicit_lr_or_momentum_is_kept_with_the_nesterov_default():
    opt = load_config(overrides={"worker.local_steps": 4, "optimizer.lr": 0.5}).optimizer
    assert (opt.name, opt.lr, opt.momentum) == ("nesterov", 0.5, 0.9)
    opt = load_config({"worker": {"local_steps": 4}, "optimizer": {"momentum": 0.8}}).optimizer
    assert (opt.name, opt.lr, opt.momentum) == ("nesterov", 0.7, 0.8)


def test_resolved_config_reloads_to_the_same_optimizer():
    cfg = load_config(overrides={"worker.local_steps": 8})
    again = load_config(cfg.model_dump(mode="json"))
    assert again == cfg
