import pytest
import torch

from dist_llm_train.aggregation import make_aggregator
from dist_llm_train.errors import PreconditionError


def test_averages_the_m_best():
    x = torch.tensor([[1.0, 1.0], [1.2, 1.0], [0.8, 1.0], [1.0, 1.2], [1.0, 0.8], [50.0, -50.0], [-40.0, 60.0]])
    agg = make_aggregator("multikrum", f=2)(x)  # default m = n - f = 5
    assert torch.allclose(agg.update, torch.tensor([1.0, 1.0]))
    assert agg.selected == [0, 1, 2, 3, 4]
    agg3 = make_aggregator("multikrum", f=2, m=1)(x)
    assert agg3.selected == [0]


def test_weights_apply_to_the_selected():
    x = torch.tensor([[0.0], [0.1], [0.2], [0.3], [0.4], [100.0], [-100.0]])
    w = torch.tensor([1.0, 1.0, 1.0, 1.0, 4.0, 1.0, 1.0])
    agg = make_aggregator("multikrum", f=2)(x, w)
    assert agg.update.item() == pytest.approx((0.0 + 0.1 + 0.2 + 0.3 + 1.6) / 8)


def test_preconditions():
    with pytest.raises(PreconditionError, match=r"multikrum.*at least 7.*n = 6"):
        make_aggregator("multikrum", f=2)(torch.randn(6, 3))
    with pytest.raises(PreconditionError, match=r"m \+ f.*at least 9"):
        make_aggregator("multikrum", f=2, m=7)(torch.randn(8, 3))


def test_robust_to_every_attack(robust, attacked):
    errors = robust("multikrum", bound=0.5)
    # ALIE (documented): its rows are selected, but averaged with 6 honest ones the bias stays small
    rd = attacked("alie")
    assert make_aggregator("multikrum", f=2)(rd.updates).trust[-2:].tolist() == [1.0, 1.0]
    assert errors["alie"] <= 0.5
