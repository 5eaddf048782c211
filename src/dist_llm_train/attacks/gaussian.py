"""Gaussian: send pure noise N(0, std^2) per coordinate instead of the update (a crashed or
corrupted worker; Blanchard et al. 2017). Large std breaks a mean; distance-based and coordinate-wise
rules discard it."""

from __future__ import annotations

import torch

from dist_llm_train.attacks._params import number
from dist_llm_train.attacks.base import Attack, AttackContext


class GaussianNoise(Attack):
    name = "gaussian"

    def __init__(self, std: float = 1.0):
        self.std = number("gaussian", "std", std, minimum=0, strict=True)

    def apply(self, honest_update: torch.Tensor, ctx: AttackContext) -> torch.Tensor:
        out = torch.empty_like(honest_update)
        return out.normal_(0.0, self.std, generator=ctx.generator)
