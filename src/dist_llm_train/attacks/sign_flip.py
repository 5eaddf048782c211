"""Sign flip: send -scale times the honest update (Allen-Zhu et al. 2021; scale = 1 is the plain flip).

Pulls a mean backwards along the true descent direction; with scale > 1 it overwhelms the honest
majority of a plain mean, while rules that bound each input's influence resist it.
"""

from __future__ import annotations

import torch

from dist_llm_train.attacks._params import number
from dist_llm_train.attacks.base import Attack, AttackContext


class SignFlip(Attack):
    name = "sign_flip"

    def __init__(self, scale: float = 1.0):
        self.scale = number("sign_flip", "scale", scale, minimum=0, strict=True)

    def apply(self, honest_update: torch.Tensor, ctx: AttackContext) -> torch.Tensor:
        return honest_update * (-self.scale)
