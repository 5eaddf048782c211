import pytest
import torch

from dist_llm_train.compression import make_codec
from dist_llm_train.compression.topk import SMALL, TopKSelector


def assert_is_top_k(x, idx, k):
    assert idx.numel() == k and torch.equal(idx, idx.unique())
    kept = torch.zeros_like(x, dtype=torch.bool)
    kept[idx] = True
    assert x.abs()[kept].min() >= x.abs()[~kept].max()


@pytest.mark.parametrize("d", [1000, SMALL + 12345])
def test_exact_variant_keeps_exactly_the_largest(d):
    x = torch.randn(d, generator=torch.Generator().manual_seed(d))
    sel = TopKSelector(0.01, seed=0)
    assert_is_top_k(x, sel.indices(x), round(0.01 * d))


def test_exact_with_heavy_ties_and_zeros():
    x = torch.zeros(SMALL * 2)
    x[::7] = 1.0
    x[::1000] = -3.0
    sel = TopKSelector(0.1, seed=0)
    assert_is_top_k(x, sel.indices(x), round(0.1 * x.numel()))


def test_decoded_vector_holds_the_top_values():
    x = torch.randn(5000)
    out = make_codec("topk:0.02").roundtrip(x)[1]
    idx = torch.topk(x.abs(), 100).indices
    assert torch.equal(out[idx], x[idx]) and int((out != 0).sum()) == 100


def test_approx_ratio_within_ten_percent_of_asked():
    d = SMALL * 4
    g = torch.Generator().manual_seed(3)
    for ratio in [0.01, 0.001, 0.1]:
        sel = TopKSelector(ratio, approx=True, seed=1)
        for x in [torch.randn(d, generator=g), torch.randn(d, generator=g) ** 5]:
            idx = sel.indices(x)
            achieved = idx.numel() / d
            assert abs(achieved - ratio) <= 0.1 * ratio, (ratio, achieved)
            # whatever was kept is still above everything dropped
            kept = torch.zeros(d, dtype=torch.bool)
            kept[idx] = True
            assert x.abs()[kept].min() >= x.abs()[~kept].max()


def test_ratio_one_sends_everything():
    x = torch.randn(100)
    assert torch.equal(make_codec("topk:1.0").roundtrip(x)[1], x)


@pytest.mark.slow
def test_gpt2_sized_vector_exact_and_approx():
    d = 124_439_808
    x = torch.randn(d, generator=torch.Generator().manual_seed(0))
    k = round(0.01 * d)
    idx = TopKSelector(0.01, seed=0).indices(x)
    threshold = torch.kthvalue(x.abs()[idx], 1).values
    assert idx.numel() == k and int((x.abs() > threshold).sum()) <= k
    approx = TopKSelector(0.01, approx=True, seed=0).indices(x)
    assert abs(approx.numel() - k) <= 0.1 * k


@pytest.mark.parametrize("nnz", [0, 3000, 10485, 20000])
def test_mostly_zero_vectors_take_the_nonzeros_first(nnz):
    """A downlink delta after a sparse step is ~99% zeros: the sampled threshold is 0 there, and
    the selection must still be the exact top-k (zeros by lowest position) without a cut over d."""
    d = 1 << 20
    g = torch.Generator().manual_seed(nnz)
    x = torch.zeros(d)
    x[torch.randperm(d, generator=g)[:nnz]] = torch.randn(nnz, generator=g)
    sel = TopKSelector(0.01, seed=0)
    idx = sel.indices(x)
    k = round(0.01 * d)
    assert idx.numel() == k and bool((idx[1:] > idx[:-1]).all())
    assert torch.equal(x.abs()[idx].sort().values, torch.topk(x.abs(), k).values.sort().values)
    if nnz < k:  # every nonzero, then the lowest-positioned zeros
        zeros = idx[x[idx] == 0]
        assert torch.equal(zeros, torch.from_numpy((x == 0).numpy().nonzero()[0][: k - nnz]))
