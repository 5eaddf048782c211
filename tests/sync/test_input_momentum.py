"""Per-worker input momentum: its arithmetic, and that it lets Multi-Krum filter a sign-flipping
worker in the rounds where honest updates are nearly orthogonal (the gpt2 suite's hard rounds)."""

import pytest
import torch

from dist_llm_train.aggregation import make_aggregator
from dist_llm_train.config import load_config
from dist_llm_train.controller.assembly import build_coordinator
from dist_llm_train.sync.coordinator import BoundedAsyncCoordinator
from dist_llm_train.sync.input_momentum import InputMomentum


def test_bias_corrected_average_per_worker():
    m = InputMomentum(0.5)
    rows = torch.tensor([[2.0, 0.0], [0.0, 4.0]])
    m.apply(rows, [0, 1])
    assert torch.equal(rows, torch.tensor([[2.0, 0.0], [0.0, 4.0]]))  # first input: full size
    rows = torch.tensor([[4.0, 0.0]])
    m.apply(rows, [0])  # worker 0 only: raw average 0.5 * (0.5 * 2) + 0.5 * 4, over 1 - 0.5^2
    assert rows[0, 0].item() == pytest.approx((0.25 * 2 + 0.5 * 4) / 0.75)
    rows = torch.tensor([[0.0, 0.0]])
    m.apply(rows, [1])  # worker 1's history is its own
    assert rows[0, 1].item() == pytest.approx((0.25 * 4) / 0.75)


def test_zero_beta_leaves_rows_alone_and_bad_beta_is_rejected():
    rows = torch.randn(3, 5)
    before = rows.clone()
    InputMomentum(0.0).apply(rows, [0, 1, 2])
    assert torch.equal(rows, before)
    with pytest.raises(ValueError):
        InputMomentum(1.0)


def _hard_rounds(coord: BoundedAsyncCoordinator, rounds: int, seed: int) -> list[bool]:
    """Rounds of 4 honest updates = a shared direction + noise twice its size in a 12-dimensional
    subspace (pairwise cosine about 0.2 and spread widely, as measured in the gpt2 ci cut from step
    13 on, where gradient noise sits on few directions), and worker 4 sending its own honest update
    flipped. Returns, per round, whether exactly the Byzantine input was filtered."""
    g = torch.Generator().manual_seed(seed)
    d, k = 2000, 12
    mean = torch.randn(d, generator=g)
    mean /= mean.norm()
    basis = torch.randn(d, k, generator=g)
    caught = []
    for r in range(rounds):
        for w in range(5):
            noise = basis @ torch.randn(k, generator=g)
            u = mean + 2.0 * noise / noise.norm()
            u /= u.norm()
            coord.offer(w, -u if w == 4 else u, base_version=r, server_version=r)
        fl = coord.flush()
        caught.append(fl.trust[4] == 0.0 and all(t == 1.0 for t in fl.trust[:4]))
    return caught


def _coordinator(beta: float) -> BoundedAsyncCoordinator:
    return BoundedAsyncCoordinator(num_workers=5, max_staleness=0, buffer_size=5, byzantine_ids=[4],
                                   aggregator=make_aggregator("multikrum", f=1), input_momentum=beta)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_momentum_makes_the_sign_flip_separable_in_noisy_rounds(seed):
    plain = _hard_rounds(_coordinator(0.0), 40, seed)
    assert plain.count(False) >= 3, "the scenario must be hard for one round's updates"
    coord = _coordinator(0.9)
    averaged = _hard_rounds(coord, 40, seed)
    assert all(averaged), f"missed rounds with momentum: {[i for i, ok in enumerate(averaged) if not ok]}"
    flt = coord.summary()["filtering"]
    assert flt["detection_rate"] == 1.0 and flt["false_positive_rate"] == 0.0


def test_config_reaches_the_coordinator():
    cfg = load_config(None, ["aggregation.rule=multikrum", "aggregation.f=1", "aggregation.momentum=0.9",
                             "sync.buffer_size=5", "network.preset=lan", "network.num_workers=5"])
    coord = build_coordinator(cfg, 5, [4])
    assert coord.momentum.beta == 0.9
    with pytest.raises(Exception, match="momentum"):
        load_config(None, ["aggregation.momentum=1.5"])
