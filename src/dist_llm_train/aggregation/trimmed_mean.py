"""Coordinate-wise trimmed mean (Yin et al. 2018): per coordinate, drop the b smallest and b largest
values and average the rest.

Precondition n > 2b with b = f by default (b >= f may be asked for): at least one value survives,
and every surviving value lies within the range of the honest values. Weights are not used by the
order statistic (see median.py).

Trust: the fraction of coordinates at which the input survived the trimming, relative to the
average (n - 2b) / n, capped at 1.
"""

from __future__ import annotations

import torch

from dist_llm_train.aggregation.base import Aggregate, Aggregator, trust_from_kept
from dist_llm_train.aggregation.coordinatewise import ColumnStat, CoordinatewiseRunner
from dist_llm_train.errors import PreconditionError


class TrimmedMean(Aggregator):
    name = "trimmed_mean"
    precondition = "n >= 2b + 1 with b = f trimmed per side"

    def __init__(self, f: int = 0, b: int | None = None, backend: str = "auto"):
        super().__init__(f)
        if b is not None and (int(b) != b or b < self.f):
            raise PreconditionError(f"trimmed_mean: b (values trimmed per side) must be an integer >= f = {f}, got {b}")
        self.b = None if b is None else int(b)
        self.runner = CoordinatewiseRunner(backend)

    def _trim(self, f: int) -> int:
        return f if self.b is None else self.b - (self.f - f)  # f shrinks when NaN rows were removed

    def min_inputs(self, f: int) -> int:
        return 2 * self._trim(f) + 1

    def combine(self, x: torch.Tensor, w: torch.Tensor | None, f: int) -> Aggregate:
        n, d = x.shape
        stat = ColumnStat("trimmed", n, self._trim(f))
        out, kept, kernel = self.runner(x, stat)
        return Aggregate(out, trust_from_kept(kept, stat.kept_per_coordinate, n), {"kernel": kernel, "b": stat.trim})
