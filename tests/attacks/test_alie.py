import pytest
import torch

from dist_llm_train.attacks import AttackContext, make_attack
from dist_llm_train.attacks.alie import alie_z


def test_z_from_n_and_f_as_in_the_paper():
    # n = 10, f = 2: s = floor(10/2 + 1) - 2 = 4, z = Phi^-1(6/10)
    assert alie_z(10, 2) == pytest.approx(0.2533471, abs=1e-6)
    # n = 50, f = 12 (the paper's example): s = 26 - 12 = 14, z = Phi^-1(36/50) ~ 0.583
    assert alie_z(50, 12) == pytest.approx(0.5828415, abs=1e-6)


def test_mean_minus_z_std_of_the_honest_updates():
    # prepare: honest columns with known mean and (unbiased) std
    h = torch.tensor([[1.0, 10.0], [3.0, 10.0], [5.0, 10.0]])  # mean (3, 10), std (2, 0)
    # execute
    out = make_attack("alie", z=1.5).apply(h[0], AttackContext(honest=h, n=5, f=2))
    # assert
    assert out.tolist() == [0.0, 10.0]


def test_needs_the_honest_updates():
    with pytest.raises(ValueError, match="omniscient"):
        make_attack("alie").apply(torch.zeros(3), AttackContext(n=10, f=2))
    with pytest.raises(ValueError, match="pass z"):
        make_attack("alie").apply(torch.zeros(3), AttackContext(honest=torch.zeros(2, 3), n=10, f=0))
