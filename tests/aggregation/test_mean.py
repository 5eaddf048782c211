import pytest
import torch

from dist_llm_train.aggregation import make_aggregator


def test_weighted_mean_of_known_rows():
    # prepare
    x = torch.tensor([[1.0, 2.0], [3.0, 6.0]])
    # execute
    agg = make_aggregator("mean")(x, torch.tensor([1.0, 3.0]))
    # assert: (1*[1,2] + 3*[3,6]) / 4
    assert torch.allclose(agg.update, torch.tensor([2.5, 5.0]))
    assert agg.trust.tolist() == [1.0, 1.0]


def test_unweighted_mean():
    x = torch.randn(5, 100)
    assert torch.allclose(make_aggregator("mean")(x).update, x.mean(0), atol=1e-6)


@pytest.mark.parametrize("w", [[1.0, 0.0], [1.0, -1.0], [1.0, float("nan")], [1.0]])
def test_invalid_weights_are_rejected(w):
    with pytest.raises(ValueError, match="weight"):
        make_aggregator("mean")(torch.randn(2, 3), torch.tensor(w))


def test_mean_is_broken_by_a_single_scaled_input(attacked):
    rd = attacked("scaled", n=10, f=1, scale=100.0)
    assert rd.error(make_aggregator("mean")(rd.updates).update) > 5
