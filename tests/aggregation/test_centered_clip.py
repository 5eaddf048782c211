import pytest
import torch

from dist_llm_train.aggregation import make_aggregator
from dist_llm_train.errors import PreconditionError


def test_one_step_by_hand():
    # prepare: reference 0, tau = 1; inputs at distance 0.5 (kept) and 10 (clipped to 1)
    x = torch.tensor([[0.5, 0.0], [0.0, 10.0]])
    agg = make_aggregator("centered_clip", tau=1.0, iters=1, reference=torch.zeros(2))
    # execute
    out = agg(x)
    # assert: v = 0 + 1/2 * (0.5, 0) + 1/2 * (0, 10) * 0.1
    assert torch.allclose(out.update, torch.tensor([0.25, 0.5]))
    assert torch.allclose(out.trust, torch.tensor([1.0, 0.1]))


def test_keeps_its_reference_between_calls():
    agg = make_aggregator("centered_clip", tau=1.0, iters=1, reference=torch.zeros(1))
    first = agg(torch.tensor([[4.0], [4.0], [4.0]])).update.item()
    second = agg(torch.tensor([[4.0], [4.0], [4.0]])).update.item()
    assert first == pytest.approx(1.0) and second == pytest.approx(2.0)
    agg.reset()
    assert agg(torch.tensor([[4.0], [4.0], [4.0]])).info["start"] == "median"


def test_rejects_bad_reference_and_params():
    with pytest.raises(ValueError, match="reference"):
        make_aggregator("centered_clip", reference=torch.tensor([float("nan")]))
    with pytest.raises(PreconditionError, match="tau"):
        make_aggregator("centered_clip", tau=0.0)
    agg = make_aggregator("centered_clip", reference=torch.zeros(3))
    with pytest.raises(ValueError, match="reset"):
        agg(torch.randn(3, 4))


def test_precondition():
    with pytest.raises(PreconditionError, match=r"centered_clip.*2f \+ 1.*n = 4"):
        make_aggregator("centered_clip", f=2)(torch.randn(4, 3))


def test_robust_to_every_attack(robust, attacked, alie_bias):
    errors = robust("centered_clip", bound=0.5)
    # ALIE (documented): its rows lie closer to the centre than honest ones, so they are never clipped, and
    # the aggregate is biased along the ALIE direction about as much as the plain mean (not more, not less)
    rd = attacked("alie")
    agg = make_aggregator("centered_clip", f=2)(rd.updates)
    assert agg.trust[-2:].tolist() == [1.0, 1.0]
    ratio = alie_bias(rd, agg.update) / alie_bias(rd, make_aggregator("mean")(rd.updates).update)
    assert 0.7 < ratio < 1.5, ratio
    assert errors["alie"] <= 0.5
