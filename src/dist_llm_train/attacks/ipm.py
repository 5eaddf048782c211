"""Inner product manipulation (Xie, Koyejo & Gupta 2020): send -epsilon times the mean of the honest
updates.

With a small epsilon the Byzantine points sit close to the honest cluster (Krum and median keep
them) yet make the aggregate's inner product with the true gradient smaller, or negative once
f * epsilon outweighs the honest share. Omniscient: needs the round's honest updates.
"""

from __future__ import annotations

import torch

from dist_llm_train.attacks._params import honest_rows, number
from dist_llm_train.attacks.base import Attack, AttackContext


class InnerProductManipulation(Attack):
    name = "ipm"
    omniscient = True

    def __init__(self, epsilon: float = 0.1):
        self.epsilon = number("ipm", "epsilon", epsilon, minimum=0, strict=True)

    def apply(self, honest_update: torch.Tensor, ctx: AttackContext) -> torch.Tensor:
        return honest_rows("ipm", ctx).mean(dim=0).mul_(-self.epsilon)
