import pytest
import torch

from dist_llm_train.aggregation import make_aggregator
from dist_llm_train.errors import PreconditionError


def test_symmetric_points_have_their_centre():
    # prepare: the corners of a square around (3, -2), plus its centre
    c = torch.tensor([3.0, -2.0])
    x = torch.stack([c + torch.tensor(v) for v in ([1.0, 1.0], [-1.0, 1.0], [1.0, -1.0], [-1.0, -1.0])])
    # execute
    agg = make_aggregator("geomed", f=1)(x)
    # assert
    assert torch.allclose(agg.update, c, atol=1e-5)
    assert agg.info["converged"]


def test_far_point_moves_it_little():
    # geometric median of collinear points 0, 1, 2, 1000 (weights equal) lies in [1, 2]
    x = torch.tensor([[0.0], [1.0], [2.0], [1000.0], [1.5]])
    agg = make_aggregator("geomed", f=2)(x)
    assert agg.update.item() == pytest.approx(1.5, abs=1e-3)
    assert agg.trust[3] < 0.05


def test_precondition_and_params():
    with pytest.raises(PreconditionError, match=r"geomed.*2f \+ 1.*n = 4"):
        make_aggregator("geomed", f=2)(torch.randn(4, 3))
    with pytest.raises(PreconditionError, match="max_iter"):
        make_aggregator("geomed", max_iter=0)


def test_robust_to_every_attack(robust, attacked, alie_bias):
    errors = robust("geomed", bound=0.5)
    rd = attacked("alie")
    # ALIE (documented): the geometric median is pulled along the ALIE direction more than the mean
    agg = make_aggregator("geomed", f=2)(rd.updates)
    assert alie_bias(rd, agg.update) > 2 * alie_bias(rd, make_aggregator("mean")(rd.updates).update)
    assert errors["alie"] <= 0.5
