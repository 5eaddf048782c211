import pytest
import torch

from dist_llm_train.aggregation import make_aggregator
from dist_llm_train.aggregation.bulyan import recursive_krum
from dist_llm_train.aggregation.distances import pairwise_sq_distances
from dist_llm_train.errors import PreconditionError


def test_planted_case():
    # prepare: n = 7, f = 1 -> theta = 5 selected, beta = 3 closest to the median per coordinate
    x = torch.tensor([[1.0, 10.0], [2.0, 11.0], [3.0, 12.0], [4.0, 13.0], [5.0, 14.0], [6.0, 15.0],
                      [900.0, -900.0]])
    # execute
    agg = make_aggregator("bulyan", f=1)(x)
    # assert: the outlier is never selected; of the five selected (evenly spaced per coordinate) the
    # three closest to their median are the middle three
    chosen = agg.info["selected"]
    assert 6 not in chosen and len(chosen) == 5
    sel = x[chosen].sort(dim=0).values
    assert torch.allclose(agg.update, sel[1:4].mean(dim=0))
    # trust: the window members count fully, the selected extremes and the outlier not at all
    assert agg.selected == sorted(chosen)[1:4]
    assert agg.trust[6] == 0.0


def test_recursive_krum_removes_each_winner():
    x = torch.tensor([[0.0], [0.1], [0.2], [0.3], [0.4], [0.5], [50.0]])
    chosen = recursive_krum(pairwise_sq_distances(x), 1, 5)
    assert len(set(chosen)) == 5 and 6 not in chosen


def test_precondition_4f_plus_3():
    make_aggregator("bulyan", f=2)(torch.randn(11, 3))
    with pytest.raises(PreconditionError, match=r"bulyan.*4f \+ 3.*at least 11.*f = 2.*n = 10"):
        make_aggregator("bulyan", f=2)(torch.randn(10, 3))


def test_robust_to_every_attack(robust, attacked, alie_bias):
    # n = 11 is the smallest n for f = 2; bound 0.8 spreads (attack-free error ~0.45)
    errors = robust("bulyan", bound=0.8, n=11)
    # ALIE (documented): recursive Krum selects both ALIE rows (identical, so each other's nearest neighbour)
    # and they sit inside every coordinate's window, fully trusted; the bias along the ALIE direction is
    # ~4.5x the plain mean's, though still inside the bound
    rd = attacked("alie", n=11)
    agg = make_aggregator("bulyan", f=2)(rd.updates)
    assert agg.trust[-2:].tolist() == [1.0, 1.0]
    assert alie_bias(rd, agg.update) > 3 * alie_bias(rd, make_aggregator("mean")(rd.updates).update)
    assert errors["alie"] <= 0.8
