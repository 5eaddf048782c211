import pytest
import torch

from dist_llm_train.attacks import AttackContext, make_attack


def test_minus_epsilon_times_the_honest_mean():
    h = torch.tensor([[1.0, 2.0], [3.0, 6.0]])
    out = make_attack("ipm", epsilon=0.5).apply(h[0], AttackContext(honest=h, n=4, f=2))
    assert out.tolist() == [-1.0, -2.0]
    assert h.tolist() == [[1.0, 2.0], [3.0, 6.0]]


def test_needs_the_honest_updates():
    with pytest.raises(ValueError, match="omniscient"):
        make_attack("ipm").apply(torch.zeros(3), AttackContext())
