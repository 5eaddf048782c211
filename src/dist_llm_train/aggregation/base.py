"""The aggregation contract: n updates in, one update out, and who was trusted.

`Aggregate.trust[i]` is the weight input i received in the result (0 = filtered out, 1 = fully
kept for selection rules; fractional for rules that down-weight), so that the server can score
filtering against the ground truth of which workers are Byzantine.

Non-finite inputs. A row holding NaN or Inf is a fault the server can see for certain, so it never
reaches a rule: every rule runs a cheap check that is complete (any non-finite value makes it fire:
a weighted sum, a Gram diagonal, a chunk's row sums), and when it fires the call is redone on the
finite rows only. Those rows get trust 0, are listed in `info["nonfinite"]`, and count against the
Byzantine budget (`f_effective = max(f - k, 0)` for k such rows), which keeps the rule's
precondition true whenever it held for the full set and k <= f.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import torch

from dist_llm_train.errors import PreconditionError


@dataclass
class Aggregate:
    update: torch.Tensor  # [d]
    trust: torch.Tensor  # [n] float in [0, 1]: how much each input counted
    info: dict = field(default_factory=dict)

    @property
    def selected(self) -> list[int]:
        """Inputs that counted at all (trust > 0)."""
        return [i for i, t in enumerate(self.trust.tolist()) if t > 0]

    @property
    def filtered(self) -> list[int]:
        return [i for i, t in enumerate(self.trust.tolist()) if t <= 0]


class NonFiniteRows(Exception):
    """Raised inside a rule when its cheap check finds rows holding NaN or Inf."""

    def __init__(self, rows: list[int]):
        super().__init__(f"rows {rows} hold non-finite values")
        self.rows = rows


def nonfinite_rows(x: torch.Tensor, rows: list[int] | None = None) -> list[int]:
    """Exact list of the rows of x (or of `rows` only) that hold a NaN or an Inf."""
    # an fp64 sum of fp32 values cannot overflow: it is non-finite exactly when a term is
    return [i for i in (range(x.shape[0]) if rows is None else rows)
            if not bool(torch.isfinite(x[i].sum(dtype=torch.float64)))]


def raise_if_nonfinite(x: torch.Tensor, suspects: torch.Tensor | None = None) -> None:
    """Given per-row sums (or norms) that are non-finite for suspect rows, confirm exactly and raise.

    A finite row whose sum overflowed is not a fault and is let through.
    """
    if suspects is None:
        rows = None
    else:
        rows = [i for i, ok in enumerate(torch.isfinite(suspects).tolist()) if not ok]
        if not rows:
            return
    bad = nonfinite_rows(x, rows)
    if bad:
        raise NonFiniteRows(bad)


def normalized_weights(weights: torch.Tensor | None, n: int, who: str) -> torch.Tensor | None:
    """Weights as float64 summing to 1, or None for equal weights. Rejects what cannot be a weight."""
    if weights is None:
        return None
    w = torch.as_tensor(weights, dtype=torch.float64).flatten()
    if w.numel() != n:
        raise ValueError(f"{who}: got {w.numel()} weights for {n} updates; pass one weight per update")
    if not bool(torch.isfinite(w).all()) or bool((w <= 0).any()):
        raise ValueError(f"{who}: weights must be finite and > 0 (drop an update instead of weighting it 0), got {w}")
    return w / w.sum()


def trust_from_kept(kept_fraction: torch.Tensor, kept_per_coordinate: float, n: int) -> torch.Tensor:
    """Trust of coordinate-wise rules: the fraction of coordinates at which input i was among the kept
    values, relative to the fraction an input keeps on average (kept_per_coordinate / n), capped at 1."""
    return (kept_fraction * (n / kept_per_coordinate)).clamp(0, 1).to(torch.float32)


class Aggregator(ABC):
    """Combine n updates (rows of an [n, d] fp32 tensor), of which up to f may be malicious.

    Subclasses implement `combine(x, w, f)`; `__call__` (alias `aggregate`) validates the input,
    checks the precondition, and handles non-finite rows as described in the module docstring.
    """

    name: str = ""
    precondition: str = "n >= 1"  # human-readable form of min_inputs, for messages and docs

    def __init__(self, f: int = 0):
        if int(f) != f or f < 0:
            raise PreconditionError(f"{self.name or type(self).__name__}: f must be an integer >= 0, got {f}")
        self.f = int(f)

    def min_inputs(self, f: int) -> int:
        """The smallest n for which this rule's guarantee holds with f Byzantine inputs."""
        return 1

    @property
    def label(self) -> str:
        return self.name

    def check(self, n: int, f: int | None = None, context: str = "") -> None:
        f = self.f if f is None else f
        need = self.min_inputs(f)
        if n < need:
            raise PreconditionError(
                f"{self.label}: needs {self.precondition}, i.e. at least {need} inputs to tolerate f = {f} "
                f"Byzantine ones (got n = {n}{context}); lower f or raise the number of updates per step "
                f"(sync.buffer_size)"
            )

    def __call__(self, updates: torch.Tensor, weights: torch.Tensor | None = None) -> Aggregate:
        if updates.dim() != 2:
            raise ValueError(f"{self.name}: updates must be an [n, d] tensor, got shape {tuple(updates.shape)}")
        if not updates.is_floating_point():
            raise ValueError(f"{self.name}: updates must be floating point, got {updates.dtype}")
        x = updates if updates.is_contiguous() else updates.contiguous()
        n = x.shape[0]
        self.check(n)
        w = normalized_weights(weights, n, self.name)
        try:
            agg = self.combine(x, w, self.f)
        except NonFiniteRows:
            agg = self._without_nonfinite(x, w)
        agg.info.setdefault("rule", self.label)
        agg.info.setdefault("n", n)
        agg.info.setdefault("f", self.f)
        return agg

    aggregate = __call__

    def _without_nonfinite(self, x: torch.Tensor, w: torch.Tensor | None) -> Aggregate:
        n = x.shape[0]
        bad = nonfinite_rows(x)
        good = [i for i in range(n) if i not in set(bad)]
        f_eff = max(self.f - len(bad), 0)
        if not good:
            raise PreconditionError(f"{self.label}: all {n} updates hold NaN or Inf; nothing to aggregate")
        self.check(len(good), f_eff, context=f" finite ones: {len(bad)} of {n} held NaN/Inf, more than f = {self.f}")
        idx = torch.tensor(good)
        sub_w = None if w is None else w[idx] / w[idx].sum()
        agg = self.combine(x.index_select(0, idx), sub_w, f_eff)
        trust = torch.zeros(n, dtype=torch.float32)
        trust[idx] = agg.trust
        agg.trust = trust
        agg.info.update(nonfinite=bad, f_effective=f_eff)
        return agg

    @abstractmethod
    def combine(self, x: torch.Tensor, w: torch.Tensor | None, f: int) -> Aggregate:
        """Aggregate the rows of x (weights w summing to 1, or None) tolerating f Byzantine rows.

        Must raise NonFiniteRows (via raise_if_nonfinite) if any row holds NaN or Inf.
        """
