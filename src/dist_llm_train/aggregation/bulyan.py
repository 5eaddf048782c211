"""Bulyan (El Mhamdi et al. 2018): Krum-based selection, then a coordinate-wise trimmed mean.

1. Selection: apply Krum recursively, theta = n - 2f times, each time removing the winner from the
   candidates (distances come from one Gram matrix, computed once).
2. Aggregation: per coordinate, the mean of the beta = theta - 2f selected values closest to their
   median (a contiguous window of the sorted values, found by the same sorting networks as median).

Precondition n >= 4f + 3, the condition under which every coordinate of the result is within the
honest values' range and the selection cannot be steered by the Byzantine inputs. Trust: 0 for
inputs not selected; for selected ones, the fraction of coordinates at which they were inside the
window, relative to beta / theta, capped at 1. Weights are not used (order statistics).
"""

from __future__ import annotations

import torch

from dist_llm_train.aggregation.base import Aggregate, Aggregator, trust_from_kept
from dist_llm_train.aggregation.coordinatewise import ColumnStat, CoordinatewiseRunner
from dist_llm_train.aggregation.distances import pairwise_sq_distances
from dist_llm_train.aggregation.krum import krum_scores


def recursive_krum(d2: torch.Tensor, f: int, count: int) -> list[int]:
    """Indices chosen by applying Krum `count` times, removing each winner from the candidates."""
    remaining = list(range(d2.shape[0]))
    chosen = []
    for _ in range(count):
        idx = torch.tensor(remaining)
        scores = krum_scores(d2[idx][:, idx], f)
        best = remaining[int(torch.argmin(scores))]
        chosen.append(best)
        remaining.remove(best)
    return chosen


class Bulyan(Aggregator):
    name = "bulyan"
    precondition = "n >= 4f + 3"

    def __init__(self, f: int = 0, backend: str = "auto"):
        super().__init__(f)
        self.runner = CoordinatewiseRunner(backend)

    def min_inputs(self, f: int) -> int:
        return 4 * f + 3

    def combine(self, x: torch.Tensor, w: torch.Tensor | None, f: int) -> Aggregate:
        n, d = x.shape
        theta = n - 2 * f
        chosen = sorted(recursive_krum(pairwise_sq_distances(x), f, theta))
        stat = ColumnStat("window", theta, 2 * f)
        out, kept, kernel = self.runner(x, stat, rows=chosen, finite_checked=True)  # the Gram checked every row
        trust = torch.zeros(n)
        trust[chosen] = trust_from_kept(kept, stat.kept_per_coordinate, theta)
        return Aggregate(out, trust, {"selected": chosen, "theta": theta, "beta": theta - 2 * f, "kernel": kernel})
