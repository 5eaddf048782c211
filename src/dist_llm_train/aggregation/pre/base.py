"""Pre-aggregators and the pipeline that puts them in front of a rule.

A pre-aggregator maps the n inputs to n' rows (each a mix of inputs) before the rule runs: it can
change n (bucketing makes ceil(n / s) rows), so the rule's precondition is checked on what the rule
actually sees, and the rule's trust, given per row it saw, is mapped back to the original inputs:

    trust_j = min(1, n * sum_i a_i M_ij),   a = rule trust normalised to sum 1,

where M is the composed [n', n] mixing matrix: the share input j has in the result relative to
its share in a plain mean (1 / n). Stages that only rescale rows (clipping) pass trust through.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from dist_llm_train.aggregation.base import Aggregate, Aggregator
from dist_llm_train.errors import PreconditionError


class PreAggregator(ABC):
    """One stage: (x [n, d], weights, f) -> (rows [n', d], weights [n'] or None, mixing [n', n] or None)."""

    spec: str = ""

    def output_count(self, n: int) -> int:
        return n

    def min_inputs(self, f: int) -> int:
        return 1

    @abstractmethod
    def apply(self, x: torch.Tensor, w: torch.Tensor | None, f: int
              ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]: ...


class Pipeline(Aggregator):
    """A rule behind a chain of pre-aggregators; behaves as one Aggregator."""

    def __init__(self, inner: Aggregator, stages: list[PreAggregator]):
        super().__init__(inner.f)
        self.inner, self.stages = inner, list(stages)
        self.name = inner.name
        self.precondition = inner.precondition

    @property
    def label(self) -> str:
        return f"{self.inner.name} (pre: {', '.join(s.spec for s in self.stages)})"

    def seen_counts(self, n: int) -> list[int]:
        counts = [n]
        for st in self.stages:
            counts.append(st.output_count(counts[-1]))
        return counts

    def feasible(self, n: int, f: int) -> bool:
        counts = self.seen_counts(n)
        return all(c >= st.min_inputs(f) for c, st in zip(counts, self.stages)) and \
            counts[-1] >= self.inner.min_inputs(f)

    def min_inputs(self, f: int) -> int:
        n = 1
        while not self.feasible(n, f):
            n += 1
        return n

    def check(self, n: int, f: int | None = None, context: str = "") -> None:
        f = self.f if f is None else f
        if self.feasible(n, f):
            return
        counts = self.seen_counts(n)
        path = " -> ".join(f"{c} ({st.spec})" for c, st in zip(counts[1:], self.stages))
        raise PreconditionError(
            f"{self.label}: needs at least {self.min_inputs(f)} inputs to tolerate f = {f} (got n = {n}{context}; "
            f"the inputs become {path}, and {self.inner.name} needs {self.inner.precondition}, i.e. "
            f"{self.inner.min_inputs(f)} rows; stage minima: "
            f"{', '.join(f'{st.spec} >= {st.min_inputs(f)}' for st in self.stages)}); lower f, change the "
            f"pre-aggregators or raise the number of updates per step (sync.buffer_size)"
        )

    def combine(self, x: torch.Tensor, w: torch.Tensor | None, f: int) -> Aggregate:
        n = x.shape[0]
        mix_total = None
        rows, weights = x, w
        for st in self.stages:
            rows, weights, mix = st.apply(rows, weights, f)
            if mix is not None:
                mix_total = mix if mix_total is None else mix @ mix_total
        agg = self.inner.combine(rows, weights, f)
        info = dict(agg.info, pre=[s.spec for s in self.stages], inner_trust=agg.trust.tolist(),
                    seen_n=rows.shape[0])
        if mix_total is None:
            return Aggregate(agg.update, agg.trust, info)
        t = agg.trust.to(torch.float64)
        a = t / t.sum() if float(t.sum()) > 0 else t
        trust = (n * (a @ mix_total)).clamp(0, 1).float()
        return Aggregate(agg.update, trust, info)


def _registry() -> dict[str, type]:
    from dist_llm_train.aggregation.pre.bucketing import Bucketing
    from dist_llm_train.aggregation.pre.clipping import Clipping
    from dist_llm_train.aggregation.pre.nnm import NearestNeighborMixing

    return {"nnm": NearestNeighborMixing, "bucketing": Bucketing, "clip": Clipping}


def available_pre() -> list[str]:
    return ["nnm", "bucketing:S", "clip", "clip:TAU"]


def parse_pre(spec: str) -> PreAggregator:
    """'nnm' | 'bucketing:S' | 'clip' (adaptive: median norm) | 'clip:TAU'."""
    if not isinstance(spec, str):
        raise ValueError(f"a pre-aggregator is given as a string like 'bucketing:2', got {spec!r}")
    name, _, arg = spec.strip().partition(":")
    cls = _registry().get(name)
    if cls is None:
        raise ValueError(f"unknown pre-aggregator {spec!r}; allowed: {', '.join(available_pre())}")
    return cls.from_arg(arg)
