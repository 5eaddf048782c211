import pytest
import torch

from dist_llm_train.aggregation import make_aggregator
from dist_llm_train.aggregation.krum import krum_scores
from dist_llm_train.errors import PreconditionError


def test_picks_the_known_honest_point():
    # prepare: a tight cluster around (1, 1), one far point, one point between
    x = torch.tensor([[1.0, 1.0], [1.1, 1.0], [0.9, 1.0], [1.0, 1.1], [50.0, -50.0]])
    # execute: n = 5, f = 1 -> each score sums the 2 nearest squared distances
    agg = make_aggregator("krum", f=1)(x)
    # assert: (1, 1) is closest to its two nearest neighbours
    assert agg.update.tolist() == [1.0, 1.0]
    assert agg.selected == [0]
    assert agg.trust.tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]


def test_scores_by_hand():
    d2 = torch.tensor([[0.0, 1.0, 4.0], [1.0, 0.0, 9.0], [4.0, 9.0, 0.0]], dtype=torch.float64)
    # n = 3, f = 0: n - f - 2 = 1 nearest neighbour
    assert krum_scores(d2, 0).tolist() == [1.0, 1.0, 4.0]


def test_precondition_2f_plus_3():
    make_aggregator("krum", f=2)(torch.randn(7, 3))
    with pytest.raises(PreconditionError, match=r"krum.*2f \+ 3.*at least 7.*f = 2.*n = 6"):
        make_aggregator("krum", f=2)(torch.randn(6, 3))


def test_robust_to_every_attack(robust, attacked):
    # bound: 1.2 spreads (Krum returns one honest input, about one spread from the honest mean)
    robust("krum", bound=1.2)
    # ALIE (documented): the two identical ALIE rows are each other's nearest neighbour, so Krum picks one
    rd = attacked("alie")
    agg = make_aggregator("krum", f=2)(rd.updates)
    assert agg.selected[0] >= 8
