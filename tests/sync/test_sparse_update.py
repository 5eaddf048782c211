"""A sparse (top-k) update offered to the coordinator buffers exactly what its dense form would."""

import pytest
import torch

from dist_llm_train.compression import decode_bytes, make_codec
from dist_llm_train.compression.registry import decode_sparse_bytes
from dist_llm_train.errors import DecodeError
from dist_llm_train.sync import BoundedAsyncCoordinator
from dist_llm_train.sync.sparse import SparseUpdate


def _sparse(n=1000, k=50, seed=0):
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(n, generator=g)[:k].sort().values
    return SparseUpdate(idx, torch.randn(k, generator=g), n)


@pytest.mark.parametrize("weighting", ["none", "inverse"])
def test_sparse_and_dense_offers_flush_the_same_update(weighting):
    ups = [_sparse(seed=s) for s in range(3)]
    results = []
    for as_dense in (False, True):
        coord = BoundedAsyncCoordinator(num_workers=2, max_staleness=10, staleness_weighting=weighting,
                                        buffer_size=2)
        coord.offer(0, ups[0].dense() if as_dense else ups[0], base_version=3, server_version=4)
        coord.offer(0, ups[1].dense() if as_dense else ups[1], base_version=4, server_version=4)  # merged
        coord.offer(1, ups[2].dense() if as_dense else ups[2], base_version=2, server_version=4)
        results.append(coord.flush().update)
    assert results[0].abs().sum() > 0
    assert torch.allclose(results[0], results[1], rtol=1e-6, atol=1e-7)


def test_a_sparse_update_with_nan_is_rejected():
    u = _sparse()
    u.values[3] = float("nan")
    coord = BoundedAsyncCoordinator(num_workers=1, max_staleness=1)
    assert coord.offer(0, u, 0, 0).reason == "non_finite"


def test_sparse_update_checks_its_parts():
    with pytest.raises(ValueError, match="one fp32 value per index"):
        SparseUpdate(torch.arange(3), torch.zeros(2), 10)


def test_decode_sparse_bytes_matches_the_dense_decode_and_refuses_what_it_refuses():
    n = 5000
    enc = make_codec("topk:0.02+fp16").encode(torch.randn(n))
    data = enc.to_bytes()
    idx, vals = decode_sparse_bytes(data, expected_numel=n)
    assert torch.equal(SparseUpdate(idx, vals, n).dense(), decode_bytes(data, expected_numel=n))
    assert decode_sparse_bytes(make_codec("fp16").encode(torch.randn(n)).to_bytes(), expected_numel=n) is None
    with pytest.raises(DecodeError):
        decode_sparse_bytes(data[:-1], expected_numel=n)
    with pytest.raises(DecodeError):
        decode_sparse_bytes(data, expected_numel=n + 1)
