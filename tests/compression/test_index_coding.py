import math

import pytest
import torch

from dist_llm_train.compression.index_coding import decode_indices, encode_indices
from dist_llm_train.compression.wire import PayloadReader
from dist_llm_train.errors import DecodeError


def roundtrip(idx, d):
    r = PayloadReader(encode_indices(idx, d))
    out = decode_indices(r, d)
    r.finish()
    return out


@pytest.mark.parametrize("d,k", [(1, 0), (1, 1), (9, 9), (1000, 3), (1000, 900), (1 << 20, 1 << 13)])
def test_roundtrip(d, k):
    idx = torch.randperm(d, generator=torch.Generator().manual_seed(d))[:k].sort().values
    assert torch.equal(roundtrip(idx, d), idx)


def test_size_close_to_the_entropy_bound():
    d, k = 1 << 22, 1 << 15
    idx = torch.randperm(d, generator=torch.Generator().manual_seed(0))[:k].sort().values
    bits = 8 * len(encode_indices(idx, d))
    assert bits < 1.5 * k * math.log2(d / k)  # ~9.2 bits for log2(d/k) = 7


def test_dense_sets_use_the_bitmap():
    d = 4000
    idx = torch.randperm(d, generator=torch.Generator().manual_seed(0))[: d // 2].sort().values
    assert len(encode_indices(idx, d)) == 1 + 8 + d // 8
    assert torch.equal(roundtrip(idx, d), idx)


def test_clustered_indices_use_escapes():
    d = 1 << 20
    idx = torch.cat([torch.arange(100), torch.arange(d - 100, d)])
    data = encode_indices(idx, d)
    assert len(data) < 80 and torch.equal(roundtrip(idx, d), idx)


def test_rejects_out_of_range_bitmap_padding():
    data = bytearray(encode_indices(torch.tensor([0, 1, 3, 4, 6, 9]), 10))
    assert data[0] == 1  # bitmap
    data[-1] |= 0x80  # bit 15 of a 10-entry bitmap
    with pytest.raises(DecodeError):
        decode_indices(PayloadReader(bytes(data)), 10)
