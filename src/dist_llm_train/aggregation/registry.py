"""Rules by name: what a config's `aggregation.rule` / `aggregation.pre` can say.

`make_aggregator("krum", f=1, pre=["nnm"], **params)` builds a rule (behind its pre-aggregators);
`check_precondition(rule, n, f, pre)` raises PreconditionError, naming the rule, n, f and the n it
needs, without any data (the config loader calls it before a run starts).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

from dist_llm_train.aggregation.base import Aggregator
from dist_llm_train.aggregation.bulyan import Bulyan
from dist_llm_train.aggregation.centered_clip import CenteredClip
from dist_llm_train.aggregation.geomed import GeoMed
from dist_llm_train.aggregation.krum import Krum
from dist_llm_train.aggregation.mean import Mean
from dist_llm_train.aggregation.median import Median
from dist_llm_train.aggregation.multikrum import MultiKrum
from dist_llm_train.aggregation.pre import Pipeline, parse_pre
from dist_llm_train.aggregation.trimmed_mean import TrimmedMean

RULES: dict[str, type[Aggregator]] = {
    cls.name: cls for cls in (Mean, Median, TrimmedMean, Krum, MultiKrum, Bulyan, GeoMed, CenteredClip)
}


def available_aggregators() -> list[str]:
    return list(RULES)


def make_aggregator(rule: str, f: int = 0, pre: Sequence[str] | None = (), **params) -> Aggregator:
    """The rule `rule` tolerating f Byzantine inputs, behind the pre-aggregators `pre` (in order)."""
    cls = RULES.get(rule)
    if cls is None:
        raise ValueError(f"unknown aggregation rule {rule!r}; allowed: {', '.join(RULES)}")
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "f")]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(f"{rule}: unknown parameter(s) {unknown}; it accepts {accepted or 'none'}")
    agg = cls(f=f, **params)
    if isinstance(pre, str):
        pre = [pre]
    stages = [parse_pre(s) for s in (pre or ())]
    return Pipeline(agg, stages) if stages else agg


def check_precondition(rule: str, n: int, f: int, pre: Sequence[str] | None = (), **params) -> None:
    """Raise PreconditionError if `rule` (behind `pre`) cannot tolerate f Byzantine inputs among n."""
    make_aggregator(rule, f=f, pre=pre, **params).check(int(n))
