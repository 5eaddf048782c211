"""A Little Is Enough (Baruch, Baruch & Goldberg 2019): every Byzantine worker sends
mean - z * std of the honest updates, coordinate by coordinate.

The shift stays inside the honest spread in every coordinate, so coordinate-wise rules (median,
trimmed mean) and distance-based ones (Krum) do not single it out, yet in high dimension the small
per-coordinate bias adds up to a consistent wrong direction. z comes from n and f as in the paper:
s = floor(n / 2 + 1) - f supporters are needed for a majority, and z = Phi^-1((n - s) / n);
a fixed z may be given instead. Omniscient: needs the round's honest updates.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import torch

from dist_llm_train.attacks._params import honest_rows, number
from dist_llm_train.attacks.base import Attack, AttackContext


def alie_z(n: int, f: int) -> float:
    """The paper's z_max for n workers of which f are Byzantine."""
    if n < 2 or not 0 < f < n:
        raise ValueError(f"alie: z from n and f needs n >= 2 and 0 < f < n, got n = {n}, f = {f}; pass z explicitly")
    s = math.floor(n / 2 + 1) - f
    p = (n - s) / n
    if not 0 < p < 1:
        raise ValueError(f"alie: (n - s) / n = {p} is outside (0, 1) for n = {n}, f = {f}; pass z explicitly")
    return NormalDist().inv_cdf(p)


class ALittleIsEnough(Attack):
    name = "alie"
    omniscient = True

    def __init__(self, z: float | None = None):
        self.z = None if z is None else number("alie", "z", z)

    def apply(self, honest_update: torch.Tensor, ctx: AttackContext) -> torch.Tensor:
        h = honest_rows("alie", ctx)
        z = self.z if self.z is not None else alie_z(ctx.n, ctx.f)
        std, mean = torch.std_mean(h, dim=0, correction=1 if h.shape[0] > 1 else 0)
        return mean.sub_(std, alpha=z)
