"""The aggregation contract: n updates in, one update out, and who was trusted.

`Aggregate.trust[i]` is the weight input i received in the result (0 = filtered out, 1 = fully
kept for selection rules; fractional for rules that down-weight), so that the server can score
filtering against the ground truth of which workers are Byzantine.
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


class Aggregator(ABC):
    """Combine n updates (rows of an [n, d] fp32 tensor), of which up to f may be malicious."""

    name: str = ""

    def __init__(self, f: int = 0):
        if f < 0:
            raise PreconditionError(f"{self.name or type(self).__name__}: f must be >= 0, got {f}")
        self.f = int(f)

    def min_inputs(self, f: int) -> int:
        """The smallest n for which this rule's guarantee holds with f Byzantine inputs."""
        return 1

    def check(self, n: int) -> None:
        need = self.min_inputs(self.f)
        if n < need:
            raise PreconditionError(
                f"{self.name}: needs at least {need} inputs to tolerate f = {self.f} Byzantine ones "
                f"(got n = {n}); lower f or raise the number of updates per step (sync.buffer_size)"
            )

    def __call__(self, updates: torch.Tensor, weights: torch.Tensor | None = None) -> Aggregate:
        if updates.dim() != 2:
            raise ValueError(f"{self.name}: updates must be an [n, d] tensor, got shape {tuple(updates.shape)}")
        self.check(updates.shape[0])
        return self.aggregate(updates, weights)

    @abstractmethod
    def aggregate(self, updates: torch.Tensor, weights: torch.Tensor | None = None) -> Aggregate: ...
