"""Scaled: send the honest update multiplied by `scale` (a boosted / model-replacement update,
Bagdasaryan et al. 2020). Same direction as the truth, so it hides from sign checks, but a plain
mean takes a step `scale` times too large in its share."""

from __future__ import annotations

import torch

from dist_llm_train.attacks._params import number
from dist_llm_train.attacks.base import Attack, AttackContext


class Scaled(Attack):
    name = "scaled"

    def __init__(self, scale: float = 10.0):
        self.scale = number("scaled", "scale", scale)

    def apply(self, honest_update: torch.Tensor, ctx: AttackContext) -> torch.Tensor:
        return honest_update * self.scale
