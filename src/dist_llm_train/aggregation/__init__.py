"""Byzantine-robust aggregation: rules (one per file), pre-aggregators (pre/), and their registry.

    agg = make_aggregator("krum", f=2, pre=["nnm"])
    result = agg(updates, weights)          # updates [n, d] fp32 -> Aggregate(update, trust, info)
    check_precondition("bulyan", n=10, f=2)  # PreconditionError: needs at least 11 inputs ...
"""

from dist_llm_train.aggregation.base import Aggregate, Aggregator
from dist_llm_train.aggregation.registry import (
    RULES,
    available_aggregators,
    check_precondition,
    make_aggregator,
)

__all__ = ["RULES", "Aggregate", "Aggregator", "available_aggregators", "check_precondition", "make_aggregator"]
