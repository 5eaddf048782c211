import torch

from dist_llm_train.attacks import AttackContext, make_attack


def test_uniform_in_range():
    out = make_attack("random", scale=2.0).apply(torch.zeros(100_000), AttackContext(generator=torch.Generator()))
    assert float(out.min()) >= -2.0 and float(out.max()) <= 2.0
    assert abs(float(out.std()) - 2.0 / 3**0.5) < 0.02
