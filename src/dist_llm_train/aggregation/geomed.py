"""Geometric median by the smoothed Weiszfeld iteration (Pillutla et al. 2022, RFA).

The point minimising sum_i w_i |x_i - z|. Each iteration re-weights the inputs by
w_i / max(nu, |x_i - z|) and averages: two passes over the data (distances, then the weighted
average), so the cost is a small multiple of a mean. It stops when the objective improves by less
than `tol` (relative) or after `max_iter` iterations; `info` says which. The smoothing nu keeps the
weights finite when z meets an input.

Precondition n >= 2f + 1 (breakdown point 1/2). Trust: each input's final Weiszfeld weight relative
to its plain-mean weight, capped at 1 (far-away inputs get a small, non-zero trust).
"""

from __future__ import annotations

import torch

from dist_llm_train.aggregation.base import Aggregate, Aggregator
from dist_llm_train.aggregation.distances import combine_rows, distances_to
from dist_llm_train.errors import PreconditionError


class GeoMed(Aggregator):
    name = "geomed"
    precondition = "n >= 2f + 1"

    def __init__(self, f: int = 0, max_iter: int = 64, tol: float = 1e-6, nu: float = 1e-8):
        super().__init__(f)
        if max_iter < 1 or tol < 0 or nu <= 0:
            raise PreconditionError(f"geomed: need max_iter >= 1, tol >= 0, nu > 0 (got {max_iter}, {tol}, {nu})")
        self.max_iter, self.tol, self.nu = int(max_iter), float(tol), float(nu)

    def min_inputs(self, f: int) -> int:
        return 2 * f + 1

    def combine(self, x: torch.Tensor, w: torch.Tensor | None, f: int) -> Aggregate:
        n = x.shape[0]
        w = torch.full((n,), 1.0 / n, dtype=torch.float64) if w is None else w
        z, spare = combine_rows(x, w), torch.empty_like(x[0])
        dist = distances_to(x, z)
        obj = float((w * dist).sum())
        converged, it = False, 0
        for it in range(1, self.max_iter + 1):  # noqa: B007 (the count is reported)
            beta = w / dist.clamp_min(self.nu)
            z, spare = combine_rows(x, beta / beta.sum(), out=spare), z
            dist = distances_to(x, z)
            new_obj = float((w * dist).sum())
            converged = obj - new_obj <= self.tol * new_obj
            obj = new_obj
            if converged:
                break
        beta = w / dist.clamp_min(self.nu)
        beta /= beta.sum()
        trust = (beta / w).clamp(0, 1).float()
        return Aggregate(z, trust, {"iterations": it, "converged": converged, "objective": obj})
