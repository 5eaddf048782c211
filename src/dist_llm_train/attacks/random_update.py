"""Random: send values drawn uniformly from [-scale, scale] per coordinate (arbitrary garbage of a
bounded magnitude, as opposed to Gaussian noise). Named `random` in configs."""

from __future__ import annotations

import torch

from dist_llm_train.attacks._params import number
from dist_llm_train.attacks.base import Attack, AttackContext


class RandomUpdate(Attack):
    name = "random"

    def __init__(self, scale: float = 1.0):
        self.scale = number("random", "scale", scale, minimum=0, strict=True)

    def apply(self, honest_update: torch.Tensor, ctx: AttackContext) -> torch.Tensor:
        out = torch.empty_like(honest_update)
        return out.uniform_(-self.scale, self.scale, generator=ctx.generator)
