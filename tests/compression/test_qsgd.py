import math

import torch

from dist_llm_train.compression import make_codec
from dist_llm_train.compression.qsgd import QSGDCodec


def draws(codec, x, n):
    return torch.stack([codec.roundtrip(x)[1] for _ in range(n)])


def test_unbiased_within_the_measured_variance():
    x = torch.randn(3000, generator=torch.Generator().manual_seed(0))
    codec = QSGDCodec(levels=2, bucket=256, seed=1)
    samples = draws(codec, x, 1500)
    mean, var = samples.mean(0), samples.var(0)
    # z-scores of the mean per coordinate: sum of squares ~ chi^2 with d degrees of freedom
    live = var > 0
    z2 = ((mean - x)[live] ** 2 / (var[live] / samples.shape[0])).sum().item()
    d = int(live.sum())
    assert abs(z2 - d) < 6 * math.sqrt(2 * d), (z2, d)


def test_levels_are_multiples_of_norm_over_s():
    x = torch.randn(1024)
    codec = QSGDCodec(levels=5, bucket=1024, seed=0)
    out = codec.roundtrip(x)[1]
    norm = float(x.norm()) * (1 + 2**-10)
    levels = out / (norm / 5)
    assert torch.allclose(levels, levels.round(), atol=1e-4)
    assert levels.abs().max() <= 5
    # each entry lands on one of the two levels around it
    assert ((levels - x / (norm / 5)).abs() < 1 + 1e-4).all()


def test_variance_bound_of_the_paper():
    """E||Q(v) - v||^2 <= min(d/s^2, sqrt(d)/s) ||v||^2 for one bucket of d entries (Alistarh et al. 2017)."""
    g = torch.Generator().manual_seed(5)
    for d, s in [(256, 1), (256, 4), (1024, 16), (64, 127)]:
        for v in [torch.randn(d, generator=g), torch.randn(d, generator=g) ** 3, torch.ones(d)]:
            codec = make_codec(f"qsgd:{s}:{d}", seed=d + s)
            errs = torch.stack([((codec.roundtrip(v)[1] - v) ** 2).sum() for _ in range(400)])
            bound = min(d / s**2, math.sqrt(d) / s) * float((v**2).sum()) * (1 + 2**-10) ** 2
            # the sample mean of 400 draws: allow 4 standard errors above the bound
            assert errs.mean() <= bound + 4 * errs.std() / 20, (d, s, float(errs.mean()), bound)


def test_bucketing_reduces_error_for_large_vectors():
    x = torch.randn(1 << 16)
    one = make_codec(f"qsgd:15:{1 << 16}", seed=0).roundtrip(x)[1]
    bucketed = make_codec("qsgd:15:512", seed=0).roundtrip(x)[1]
    assert (bucketed - x).norm() < 0.5 * (one - x).norm()


def test_seeded_codecs_repeat_and_state_restores():
    x = torch.randn(5000)
    a, b = make_codec("qsgd:7", seed=11), make_codec("qsgd:7", seed=11)
    assert bytes(a.encode(x).payload) == bytes(b.encode(x).payload)
    state = a.state_dict()
    nxt = bytes(a.encode(x).payload)
    b.load_state_dict(state)
    assert bytes(b.encode(x).payload) == nxt


def test_all_zero_bucket_and_tail_bucket():
    x = torch.cat([torch.zeros(512), torch.randn(100)])
    out = make_codec("qsgd:3", seed=0).roundtrip(x)[1]
    assert torch.equal(out[:512], torch.zeros(512))
    assert torch.isfinite(out).all()
