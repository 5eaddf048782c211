import pytest
import torch

from dist_llm_train.attacks import AttackContext, make_attack


def test_flips_and_scales():
    g = torch.tensor([1.0, -2.0, 0.5])
    assert make_attack("sign_flip").apply(g, AttackContext()).tolist() == [-1.0, 2.0, -0.5]
    assert make_attack("sign_flip", scale=3).apply(g, AttackContext()).tolist() == [-3.0, 6.0, -1.5]
    assert g.tolist() == [1.0, -2.0, 0.5]


def test_scale_must_be_positive():
    with pytest.raises(ValueError, match="> 0"):
        make_attack("sign_flip", scale=0)
