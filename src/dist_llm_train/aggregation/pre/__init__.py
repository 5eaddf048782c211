"""Pre-aggregators: transforms of the n inputs that run before any rule (NNM, bucketing, clipping)."""

from dist_llm_train.aggregation.pre.base import Pipeline, PreAggregator, available_pre, parse_pre

__all__ = ["Pipeline", "PreAggregator", "available_pre", "parse_pre"]
