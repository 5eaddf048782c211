"""Bucketing (Karimireddy, He & Jaggi 2022): average random buckets of s inputs, then aggregate the
ceil(n / s) bucket means.

Averaging lowers the variance among honest rows (by s) while a Byzantine input can spoil at most
its own bucket, so the rule behind it still faces at most f bad rows but among ceil(n / s): its
precondition must hold for that count (e.g. Krum with f = 2 needs ceil(n / s) >= 7). The buckets
are drawn from a seeded generator, fresh each call. Bucket weights are the sums of their inputs'
weights.
"""

from __future__ import annotations

import math

import torch

from dist_llm_train.aggregation.distances import mix_rows
from dist_llm_train.aggregation.pre.base import PreAggregator


class Bucketing(PreAggregator):
    def __init__(self, s: int, seed: int = 0):
        if int(s) != s or s < 1:
            raise ValueError(f"bucketing:S needs an integer bucket size S >= 1, got {s}")
        self.s = int(s)
        self.spec = f"bucketing:{self.s}"
        self.generator = torch.Generator().manual_seed(seed)

    @classmethod
    def from_arg(cls, arg: str) -> Bucketing:
        try:
            return cls(int(arg))
        except ValueError:
            raise ValueError(f"bucketing needs a bucket size, e.g. 'bucketing:2', got 'bucketing:{arg}'") from None

    def output_count(self, n: int) -> int:
        return math.ceil(n / self.s)

    def apply(self, x, w, f):
        n = x.shape[0]
        perm = torch.randperm(n, generator=self.generator)
        k = self.output_count(n)
        wt = torch.ones(n, dtype=torch.float64) if w is None else w
        mix = torch.zeros(k, n, dtype=torch.float64)
        for b in range(k):
            members = perm[b * self.s : (b + 1) * self.s]
            mix[b, members] = wt[members]
        bucket_w = mix.sum(dim=1)
        mix /= bucket_w[:, None]
        out_w = None if w is None else bucket_w / bucket_w.sum()
        return mix_rows(x, mix), out_w, mix
