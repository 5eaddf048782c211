import torch

from dist_llm_train.attacks import AttackContext, make_attack


def test_sends_zeros():
    out = make_attack("zero").apply(torch.randn(5), AttackContext())
    assert out.tolist() == [0.0] * 5
