"""SparseUpdate: a decoded top-k style update kept as (indices, values) instead of a dense vector.

Expanding a top-1% message of a 124M-parameter model into a dense vector zeroes and writes 0.5 GB
for 5 MB of information; the coordinator would then copy that vector into its buffer once more.
Handing it the sparse form lets it scatter the values straight into its buffer (one pass instead
of three). Only decoders that have checked the indices (sorted, distinct, in range) and the values
(finite) build one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SparseUpdate:
    indices: torch.Tensor  # int64, sorted, distinct, in [0, size)
    values: torch.Tensor  # fp32, one per index
    size: int

    def __post_init__(self):
        if self.indices.dtype != torch.int64 or self.indices.dim() != 1:
            raise ValueError("SparseUpdate indices must be a 1-D int64 tensor")
        if self.values.dtype != torch.float32 or self.values.shape != self.indices.shape:
            raise ValueError(f"SparseUpdate needs one fp32 value per index, got {tuple(self.values.shape)} values "
                             f"for {self.indices.numel()} indices")

    @property
    def shape(self) -> tuple[int]:
        return (self.size,)

    def numel(self) -> int:
        return self.size

    def dense(self) -> torch.Tensor:
        out = torch.zeros(self.size)
        out[self.indices] = self.values
        return out

    def write_scaled(self, out: torch.Tensor, weight: float) -> None:
        """out <- weight * self (dense), in place."""
        out.zero_()
        out.index_copy_(0, self.indices, self.values * weight)

    def add_scaled_to(self, out: torch.Tensor, weight: float) -> None:
        """out += weight * self, in place."""
        out.index_add_(0, self.indices, self.values, alpha=weight)
