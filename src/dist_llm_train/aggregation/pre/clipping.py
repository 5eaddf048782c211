"""Norm clipping: scale every input to norm at most tau before the rule sees it.

Bounds how far any single input can pull a rule that averages (mean, multikrum, centered clip).
`clip:TAU` uses a fixed radius; `clip` alone uses the median input norm of the round, which an
honest majority (f < n / 2) keeps at an honest scale. Trust is passed through unchanged; the
clipping factors are in `info` of the stage (rows only rescaled, never mixed).
"""

from __future__ import annotations

import torch

from dist_llm_train.aggregation.distances import mix_rows, row_norms
from dist_llm_train.aggregation.pre.base import PreAggregator


class Clipping(PreAggregator):
    def __init__(self, tau: float | None = None):
        if tau is not None and not tau > 0:
            raise ValueError(f"clip:TAU needs a radius TAU > 0, got {tau}")
        self.tau = None if tau is None else float(tau)
        self.spec = "clip" if tau is None else f"clip:{tau:g}"
        self.last_factors: list[float] = []

    @classmethod
    def from_arg(cls, arg: str) -> Clipping:
        if not arg:
            return cls()
        try:
            return cls(float(arg))
        except ValueError:
            msg = f"clip takes a radius, e.g. 'clip:1.0' (or 'clip' for the median norm), got 'clip:{arg}'"
            raise ValueError(msg) from None

    def min_inputs(self, f: int) -> int:
        return 2 * f + 1 if self.tau is None else 1

    def apply(self, x, w, f):
        norms = row_norms(x)
        tau = float(norms.median()) if self.tau is None else self.tau
        factors = (tau / norms.clamp_min(1e-30)).clamp(max=1.0)
        self.last_factors = factors.tolist()
        if bool((factors >= 1).all()):
            return x, w, None
        return mix_rows(x, torch.diag(factors)), w, None
