"""Nearest-neighbour mixing (Allouah et al. 2023): replace each input by the average of its n - f
nearest inputs (itself included).

Averaging over n - f neighbours pulls every row, honest or not, towards the honest cluster, which
shrinks the spread the rule behind it has to cope with and makes rules such as Krum, median or
trimmed mean reach the optimal robustness order. Needs n >= 2f + 1. Distances from one Gram
matrix; the mixed rows are one chunked [n, n] x [n, d] product.
"""

from __future__ import annotations

import torch

from dist_llm_train.aggregation.distances import mix_rows, pairwise_sq_distances
from dist_llm_train.aggregation.pre.base import PreAggregator


class NearestNeighborMixing(PreAggregator):
    spec = "nnm"

    @classmethod
    def from_arg(cls, arg: str) -> NearestNeighborMixing:
        if arg:
            raise ValueError(f"nnm takes no argument, got 'nnm:{arg}'")
        return cls()

    def min_inputs(self, f: int) -> int:
        return 2 * f + 1

    def apply(self, x, w, f):
        n = x.shape[0]
        d2 = pairwise_sq_distances(x)
        d2.fill_diagonal_(-1.0)  # each row is its own nearest neighbour, even among duplicates
        near = d2.topk(n - f, dim=1, largest=False).indices
        wt = torch.ones(n, dtype=torch.float64) if w is None else w
        mix = torch.zeros(n, n, dtype=torch.float64)
        mix.scatter_(1, near, wt[near])
        mix /= mix.sum(dim=1, keepdim=True)
        return mix_rows(x, mix), w, mix
