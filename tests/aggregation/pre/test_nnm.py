import pytest
import torch

from dist_llm_train.aggregation import make_aggregator
from dist_llm_train.aggregation.pre.nnm import NearestNeighborMixing
from dist_llm_train.errors import PreconditionError


def test_each_row_becomes_the_mean_of_its_n_minus_f_nearest():
    # prepare: 1-D points 0, 1, 2, 10 with f = 1 -> 3 nearest (self included)
    x = torch.tensor([[0.0], [1.0], [2.0], [10.0]])
    # execute
    rows, w, mix = NearestNeighborMixing().apply(x, None, 1)
    # assert
    assert rows.squeeze(1).tolist() == pytest.approx([1.0, 1.0, 1.0, 13 / 3])
    assert torch.allclose(mix.sum(dim=1), torch.ones(4, dtype=torch.float64))


def test_nnm_makes_krum_average_the_honest_cluster(attacked):
    rd = attacked("sign_flip", scale=5.0)
    plain = make_aggregator("krum", f=2)(rd.updates)
    mixed = make_aggregator("krum", f=2, pre=["nnm"])(rd.updates)
    # krum alone returns one honest point (~1 spread off); after NNM it returns a mean of 8 honest ones
    assert rd.error(mixed.update) < 0.4 < rd.error(plain.update)
    # trust maps back to the original inputs: the 8 honest ones
    assert mixed.trust.tolist() == [1.0] * 8 + [0.0, 0.0]


def test_nnm_needs_an_honest_majority():
    with pytest.raises(PreconditionError, match=r"nnm >= 5"):
        make_aggregator("median", f=2, pre=["nnm"])(torch.randn(4, 3))
