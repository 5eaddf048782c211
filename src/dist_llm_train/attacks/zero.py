"""Zero: send an all-zero update (a free-rider, or a worker that silently skips its work). It slows a
mean by f / n and sits where coordinate-wise rules may take it for a central value."""

from __future__ import annotations

import torch

from dist_llm_train.attacks.base import Attack, AttackContext


class Zero(Attack):
    name = "zero"

    def apply(self, honest_update: torch.Tensor, ctx: AttackContext) -> torch.Tensor:
        return torch.zeros_like(honest_update)
