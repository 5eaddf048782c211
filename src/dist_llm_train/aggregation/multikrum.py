"""Multi-Krum (El Mhamdi et al. 2018): average the m inputs with the best Krum scores.

Precondition n >= 2f + 3 (as Krum) and m <= n - f, so that averaging m inputs does not force a
Byzantine one in; the default m = n - f. The selected inputs are averaged with their weights
(renormalised), trust is 1 for them and 0 for the others.
"""

from __future__ import annotations

import torch

from dist_llm_train.aggregation.base import Aggregate, Aggregator
from dist_llm_train.aggregation.distances import combine_rows, pairwise_sq_distances
from dist_llm_train.aggregation.krum import krum_scores
from dist_llm_train.errors import PreconditionError


class MultiKrum(Aggregator):
    name = "multikrum"
    precondition = "n >= 2f + 3 and n >= m + f"

    def __init__(self, f: int = 0, m: int | None = None):
        super().__init__(f)
        if m is not None and (int(m) != m or m < 1):
            raise PreconditionError(f"multikrum: m (inputs averaged) must be an integer >= 1, got {m}")
        self.m = None if m is None else int(m)

    def min_inputs(self, f: int) -> int:
        return max(2 * f + 3, (self.m or 0) + f)

    def combine(self, x: torch.Tensor, w: torch.Tensor | None, f: int) -> Aggregate:
        n = x.shape[0]
        m = n - f if self.m is None else self.m
        scores = krum_scores(pairwise_sq_distances(x), f)
        chosen = torch.argsort(scores, stable=True)[:m]
        coef = torch.zeros(n, dtype=torch.float64)
        coef[chosen] = 1.0 if w is None else w[chosen]
        coef /= coef.sum()
        trust = (coef > 0).float()
        return Aggregate(combine_rows(x, coef), trust, {"selected": sorted(chosen.tolist()), "m": m,
                                                          "scores": scores.tolist()})
