import torch

from dist_llm_train.attacks import AttackContext, make_attack


def test_boosts_the_honest_update():
    g = torch.tensor([1.0, -2.0])
    assert make_attack("scaled").apply(g, AttackContext()).tolist() == [10.0, -20.0]
    assert make_attack("scaled:2.5").apply(g, AttackContext()).tolist() == [2.5, -5.0]
