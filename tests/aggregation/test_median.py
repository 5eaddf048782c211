import pytest
import torch

from dist_llm_train.aggregation import make_aggregator
from dist_llm_train.errors import PreconditionError


def test_median_of_known_columns():
    # prepare: column 0 sorted is [1, 2, 100]; column 1 is [-5, 0, 3]
    x = torch.tensor([[100.0, 0.0], [1.0, -5.0], [2.0, 3.0]])
    # execute
    agg = make_aggregator("median", f=1)(x)
    # assert
    assert agg.update.tolist() == [2.0, 0.0]
    # trust: row 1 is never the median, rows 0 and 2 are in one column each (above the 1/3 average)
    assert agg.trust.tolist() == [1.0, 0.0, 1.0]


def test_even_n_median_is_the_mean_of_the_two_middle_values():
    x = torch.tensor([[1.0], [4.0], [10.0], [2.0]])
    assert make_aggregator("median", f=1)(x).update.tolist() == [3.0]


@pytest.mark.parametrize("n", [5, 10, 11, 16])
def test_matches_torch_median_on_random_data(n):
    x = torch.randn(n, 3001, generator=torch.Generator().manual_seed(n))
    out = make_aggregator("median", f=(n - 1) // 2, backend="eager")(x).update
    if n % 2:
        assert torch.equal(out, torch.median(x, dim=0).values)
    else:
        s = x.sort(dim=0).values
        assert torch.allclose(out, (s[n // 2 - 1] + s[n // 2]) / 2)


def test_precondition_n_greater_than_2f():
    make_aggregator("median", f=2)(torch.randn(5, 4))
    with pytest.raises(PreconditionError, match=r"median.*2f \+ 1.*at least 5.*f = 2.*n = 4"):
        make_aggregator("median", f=2)(torch.randn(4, 4))


def test_robust_to_every_attack(robust, attacked, alie_bias):
    # bound: 0.6 honest spreads (attack-free median of 10 Gaussian rows is ~0.2 off the mean)
    errors = robust("median", bound=0.6)
    # ALIE (documented): not filtered, and it biases the median ~3x more than the mean along its direction
    rd = attacked("alie")
    agg = make_aggregator("median", f=2)(rd.updates)
    assert agg.trust[-2:].min() > 0.5
    assert alie_bias(rd, agg.update) > 2 * alie_bias(rd, make_aggregator("mean")(rd.updates).update)
    assert errors["alie"] <= 0.6
