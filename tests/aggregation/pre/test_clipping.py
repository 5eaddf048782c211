import pytest
import torch

from dist_llm_train.aggregation import make_aggregator
from dist_llm_train.aggregation.pre.clipping import Clipping


def test_fixed_radius():
    # prepare: norms 5 and 0.5
    x = torch.tensor([[3.0, 4.0], [0.3, 0.4]])
    # execute
    rows, _, mix = Clipping(1.0).apply(x, None, 0)
    # assert
    assert torch.allclose(rows, torch.tensor([[0.6, 0.8], [0.3, 0.4]]))
    assert mix is None


def test_adaptive_radius_is_the_median_norm():
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0], [30.0, 40.0]])
    rows, _, _ = Clipping().apply(x, None, 0)
    assert rows.norm(dim=1).tolist() == pytest.approx([1.0, 2.0, 2.0])


def test_clipping_bounds_the_mean_under_a_scaled_attack(attacked):
    rd = attacked("scaled", scale=100.0)
    assert rd.error(make_aggregator("mean", pre=["clip"])(rd.updates).update) < 1.0
    assert rd.error(make_aggregator("mean")(rd.updates).update) > 10


def test_bad_radius():
    with pytest.raises(ValueError, match="radius"):
        make_aggregator("mean", pre=["clip:-1"])
