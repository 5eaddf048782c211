import math

import torch

from dist_llm_train.compression import decode_bytes, make_codec
from dist_llm_train.compression.randomk import random_indices


def test_unbiased_with_d_over_k_rescaling():
    d, k_ratio, n = 400, 0.1, 3000
    x = torch.randn(d, generator=torch.Generator().manual_seed(2))
    codec = make_codec(f"randomk:{k_ratio}", seed=0)
    mean = torch.stack([codec.roundtrip(x)[1] for _ in range(n)]).mean(0)
    var_of_mean = x**2 * (1 / k_ratio - 1) / n  # per-coordinate variance of the estimator, over n draws
    z2 = float(((mean - x) ** 2 / var_of_mean).sum())
    assert abs(z2 - d) < 6 * math.sqrt(2 * d), z2


def test_indices_are_a_pure_function_of_the_seed():
    for d, k in [(10, 3), (1000, 10), (1000, 400), (1 << 20, 1 << 12)]:
        a = random_indices(12345, d, k)
        assert torch.equal(a, random_indices(12345, d, k))
        assert a.numel() == k and torch.equal(a, a.unique()) and int(a.min()) >= 0 and int(a.max()) < d
        assert not torch.equal(a, random_indices(12346, d, k)) or k == d


def test_every_coordinate_is_equally_likely():
    d, k, n = 50, 5, 4000
    counts = torch.zeros(d)
    for seed in range(n):
        counts[random_indices(seed, d, k)] += 1
    expected = n * k / d
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < d + 6 * math.sqrt(2 * d), chi2


def test_remote_decoder_regenerates_the_same_indices():
    x = torch.randn(2000)
    sender = make_codec("randomk:0.05+fp16", seed=9)
    enc = sender.encode(x)
    remote = decode_bytes(enc.to_bytes(), expected_numel=2000)
    assert torch.equal(remote, sender.decode(enc))
    assert int((remote != 0).sum()) == 100
