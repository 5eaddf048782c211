"""Coordinate-wise median (Yin et al. 2018).

Precondition n > 2f (n >= 2f + 1): an honest majority in every coordinate keeps each coordinate
of the result inside the range of the honest values. For even n the median is the mean of the two
middle values (torch.median would return the lower one). Weights are not used by the order
statistic (a weighted median would let the server's staleness discount decide which value is
"middle"); they only have to be valid.

Trust: the fraction of coordinates at which the input was one of the middle values, relative to
the average fraction (1/n or 2/n), capped at 1.
"""

from __future__ import annotations

import torch

from dist_llm_train.aggregation.base import Aggregate, Aggregator, trust_from_kept
from dist_llm_train.aggregation.coordinatewise import ColumnStat, CoordinatewiseRunner


class Median(Aggregator):
    name = "median"
    precondition = "n >= 2f + 1"

    def __init__(self, f: int = 0, backend: str = "auto"):
        super().__init__(f)
        self.runner = CoordinatewiseRunner(backend)

    def min_inputs(self, f: int) -> int:
        return 2 * f + 1

    def combine(self, x: torch.Tensor, w: torch.Tensor | None, f: int) -> Aggregate:
        n, d = x.shape
        stat = ColumnStat("median", n)
        out, kept, kernel = self.runner(x, stat)
        return Aggregate(out, trust_from_kept(kept, stat.kept_per_coordinate, n), {"kernel": kernel})
