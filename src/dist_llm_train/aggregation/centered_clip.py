"""Centered clipping (Karimireddy, He & Jaggi 2021): move a reference point towards the inputs,
each input's pull clipped to radius tau.

    v <- v + sum_i w_i * (x_i - v) * min(1, tau / |x_i - v|)        (repeated `iters` times)

The rule keeps state: its reference is the previous aggregate (the paper's choice, which pairs
with server momentum); the first call, or one after `reset()`, starts from the coordinate-wise
median of the inputs. A reference may also be passed (`reference=` or `set_reference`).
`tau` is a fixed radius, or None for the median distance of the inputs to v at each iteration,
which stays bounded by honest distances while f < n / 2.

Precondition n >= 2f + 1. Trust: each input's clipping factor min(1, tau / |x_i - v|) in the last
iteration.
"""

from __future__ import annotations

import torch

from dist_llm_train.aggregation.base import Aggregate, Aggregator
from dist_llm_train.aggregation.distances import combine_rows, distances_to
from dist_llm_train.aggregation.median import Median
from dist_llm_train.errors import PreconditionError


class CenteredClip(Aggregator):
    name = "centered_clip"
    precondition = "n >= 2f + 1"

    def __init__(self, f: int = 0, tau: float | None = None, iters: int = 3,
                 reference: torch.Tensor | None = None, backend: str = "auto"):
        super().__init__(f)
        if tau is not None and not tau > 0:
            raise PreconditionError(f"centered_clip: tau must be > 0 (or None for adaptive), got {tau}")
        if int(iters) != iters or iters < 1:
            raise PreconditionError(f"centered_clip: iters must be an integer >= 1, got {iters}")
        self.tau, self.iters = (None if tau is None else float(tau)), int(iters)
        self.set_reference(reference)
        self._median = Median(0, backend=backend)

    def min_inputs(self, f: int) -> int:
        return 2 * f + 1

    def set_reference(self, reference: torch.Tensor | None) -> None:
        if reference is not None and (reference.dim() != 1 or not bool(torch.isfinite(reference).all())):
            raise ValueError("centered_clip: the reference must be a finite 1-D tensor of the update's length")
        self.reference = None if reference is None else reference.detach().clone().float()

    def reset(self) -> None:
        self.reference = None

    def combine(self, x: torch.Tensor, w: torch.Tensor | None, f: int) -> Aggregate:
        n, d = x.shape
        w = torch.full((n,), 1.0 / n, dtype=torch.float64) if w is None else w
        if self.reference is not None and self.reference.shape != (d,):
            raise ValueError(f"centered_clip: reference has shape {tuple(self.reference.shape)} but updates have "
                             f"d = {d}; call reset() when the model changes")
        start = "reference"
        if self.reference is None:
            v, start = self._median.combine(x, None, 0).update, "median"
        else:
            v = self.reference.to(x.dtype).clone()
        spare = torch.empty_like(v)
        factor = torch.ones(n, dtype=torch.float64)
        taus = []
        for _ in range(self.iters):
            dist = distances_to(x, v)
            tau = float(dist.median()) if self.tau is None else self.tau
            taus.append(tau)
            factor = torch.where(dist <= tau, 1.0, tau / dist.clamp_min(1e-30))
            coef = w * factor
            combine_rows(x, coef, out=spare).add_(v, alpha=float(1.0 - coef.sum()))
            v, spare = spare, v
        self.reference = v.clone()
        return Aggregate(v, factor.float(), {"tau": taus, "start": start})
