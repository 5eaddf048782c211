import torch

from dist_llm_train.attacks import AttackContext, make_attack


def test_noise_has_the_asked_std_and_is_seeded():
    g = torch.ones(200_000)
    a = make_attack("gaussian", std=3.0)
    out = a.apply(g, AttackContext(generator=torch.Generator().manual_seed(1)))
    again = a.apply(g, AttackContext(generator=torch.Generator().manual_seed(1)))
    assert abs(float(out.std()) - 3.0) < 0.03 and abs(float(out.mean())) < 0.03
    assert torch.equal(out, again)
