"""Rows holding NaN/Inf never poison an aggregate: they get trust 0, count against f, and are reported."""

import pytest
import torch

from dist_llm_train.aggregation import available_aggregators, make_aggregator
from dist_llm_train.errors import PreconditionError


@pytest.mark.parametrize("rule", available_aggregators())
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nonfinite_rows_are_excluded(rule, bad):
    # prepare: 11 rows (enough for bulyan with f = 2), two of them non-finite in one coordinate
    x = 1.0 + 0.01 * torch.randn(11, 64, generator=torch.Generator().manual_seed(0))
    x[3, 5] = bad
    x[7, 60] = -bad
    # execute
    agg = make_aggregator(rule, f=2)(x)
    # assert
    assert bool(torch.isfinite(agg.update).all())
    assert agg.trust[3] == 0 and agg.trust[7] == 0
    assert agg.info["nonfinite"] == [3, 7] and agg.info["f_effective"] == 0
    assert float((agg.update - 1).abs().max()) < 0.1


def test_more_nonfinite_rows_than_the_rule_can_lose():
    x = torch.randn(7, 8)
    x[:5, 0] = float("nan")
    with pytest.raises(PreconditionError, match=r"krum.*5 of 7 held NaN/Inf"):
        make_aggregator("krum", f=2)(x)


def test_all_rows_nonfinite():
    with pytest.raises(PreconditionError, match="all 3 updates"):
        make_aggregator("mean")(torch.full((3, 4), float("nan")))


def test_inputs_are_not_modified():
    x = torch.randn(9, 50)
    x[2, 0] = float("nan")
    before = x.clone()
    for rule in available_aggregators():
        make_aggregator(rule, f=1, pre=["nnm"])(x)
    assert torch.equal(x.isnan(), before.isnan()) and torch.equal(x.nan_to_num(), before.nan_to_num())
