"""Weighted mean: the plain average every robust rule is measured against.

No precondition and no robustness: one Byzantine input can move it arbitrarily far (it is the
baseline of the benchmarks and what a run without adversaries uses). Weights (e.g. staleness
discounts) enter as the coefficients of the average.
"""

from __future__ import annotations

import torch

from dist_llm_train.aggregation.base import Aggregate, Aggregator
from dist_llm_train.aggregation.distances import combine_rows


class Mean(Aggregator):
    name = "mean"
    precondition = "n >= 1 (no robustness: any f > 0 can break it)"

    def combine(self, x: torch.Tensor, w: torch.Tensor | None, f: int) -> Aggregate:
        n = x.shape[0]
        coef = torch.full((n,), 1.0 / n, dtype=torch.float64) if w is None else w
        return Aggregate(combine_rows(x, coef), torch.ones(n), {})
