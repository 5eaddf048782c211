import pytest
import torch

from dist_llm_train.aggregation import make_aggregator
from dist_llm_train.errors import PreconditionError


def test_drops_the_planted_outliers():
    # prepare: 5 rows, planted extremes 1000 and -1000 in different columns
    x = torch.tensor([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0], [1000.0, -1000.0], [-1000.0, 1000.0]])
    # execute
    agg = make_aggregator("trimmed_mean", f=1)(x)
    # assert: the middle three of each column
    assert torch.allclose(agg.update, torch.tensor([2.0, 4.0]))
    assert agg.trust[:3].tolist() == [1.0, 1.0, 1.0] and agg.trust[3:].tolist() == [0.0, 0.0]


def test_explicit_b_trims_more():
    x = torch.tensor([[1.0], [2.0], [3.0], [4.0], [50.0]])
    assert make_aggregator("trimmed_mean", f=1, b=2)(x).update.tolist() == [3.0]
    with pytest.raises(PreconditionError, match="b"):
        make_aggregator("trimmed_mean", f=2, b=1)


def test_precondition():
    with pytest.raises(PreconditionError, match=r"trimmed_mean.*at least 7.*f = 3.*n = 6"):
        make_aggregator("trimmed_mean", f=3)(torch.randn(6, 3))


def test_robust_to_every_attack(robust, attacked, alie_bias):
    errors = robust("trimmed_mean", bound=0.6)
    rd = attacked("alie")
    agg = make_aggregator("trimmed_mean", f=2)(rd.updates)
    # ALIE (documented): survives the trimming and biases the result more than the mean's
    assert agg.trust[-2:].min() > 0.5
    assert alie_bias(rd, agg.update) > 1.3 * alie_bias(rd, make_aggregator("mean")(rd.updates).update)
    assert errors["alie"] <= 0.6
