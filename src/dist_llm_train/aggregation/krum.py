"""Krum (Blanchard et al. 2017): pick the input whose n - f - 2 nearest neighbours are closest.

Precondition n >= 2f + 3, so that n - f - 2 >= f + 1 neighbours always include an honest one.
Squared distances come from one chunked Gram matrix (distances.py). The result is the selected
input itself; trust is 1 for it and 0 for the others. Weights do not change the choice.
"""

from __future__ import annotations

import torch

from dist_llm_train.aggregation.base import Aggregate, Aggregator
from dist_llm_train.aggregation.distances import pairwise_sq_distances


def krum_scores(d2: torch.Tensor, f: int) -> torch.Tensor:
    """Score of each input: the sum of squared distances to its n - f - 2 nearest other inputs (at least 1)."""
    n = d2.shape[0]
    k = max(n - f - 2, 1)
    if n == 1:
        return torch.zeros(1, dtype=d2.dtype)
    others = d2 + torch.diag(torch.full((n,), float("inf"), dtype=d2.dtype))
    return others.topk(min(k, n - 1), dim=1, largest=False).values.sum(dim=1)


class Krum(Aggregator):
    name = "krum"
    precondition = "n >= 2f + 3"

    def min_inputs(self, f: int) -> int:
        return 2 * f + 3

    def combine(self, x: torch.Tensor, w: torch.Tensor | None, f: int) -> Aggregate:
        n = x.shape[0]
        scores = krum_scores(pairwise_sq_distances(x), f)
        best = int(torch.argmin(scores))
        trust = torch.zeros(n)
        trust[best] = 1.0
        return Aggregate(x[best].clone(), trust, {"selected": [best], "scores": scores.tolist()})
