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


def _delta_block(gaps: list[int], w: int, escapes: list[int], d: int) -> bytes:
    """An index block written field by field (kind, count, width, escape count, codes, escapes)."""
    from dist_llm_train.compression import bitpack
    from dist_llm_train.compression.index_coding import escape_width
    from dist_llm_train.compression.wire import pack_u8, pack_u64

    codes = bitpack.pack(torch.tensor(gaps, dtype=torch.int64), w).tobytes()
    esc = bitpack.pack(torch.tensor(escapes, dtype=torch.int64), escape_width(d)).tobytes() if escapes else b""
    return pack_u8(0) + pack_u64(len(gaps)) + pack_u8(w) + pack_u64(len(escapes)) + codes + esc


@pytest.mark.parametrize("seed", range(12))
def test_random_sets_with_escapes_roundtrip_exactly(seed):
    gen = torch.Generator().manual_seed(seed)
    d = int(torch.randint(2, 1 << 22, (1,), generator=gen))
    k = int(torch.randint(1, max(2, d // 50), (1,), generator=gen))
    idx = torch.randperm(d, generator=gen)[:k].sort().values
    if seed % 3 == 0:  # clusters and long jumps: many escapes at the chosen width
        idx = torch.unique(torch.cat([idx[: k // 2], torch.arange(min(d, 200)), torch.tensor([d - 1])])).sort().values
    assert torch.equal(roundtrip(idx, d), idx)


def test_a_hostile_block_is_refused_field_by_field():
    d = 1000
    good = _delta_block([3, 0, 6, 7], 3, [20], d)  # indices 3, 4, 11 and an escaped gap of 20: 32
    assert decode_indices(PayloadReader(good), d).tolist() == [3, 4, 11, 32]
    with pytest.raises(DecodeError, match="1 escape codes but 0 escapes"):
        decode_indices(PayloadReader(_delta_block([3, 7, 1], 3, [], d)), d)  # 7 = the escape code at w = 3
    with pytest.raises(DecodeError, match="escaped index gap is out of range"):
        decode_indices(PayloadReader(_delta_block([3, 7], 3, [5], d)), d)  # an escape below 2^w - 1
    with pytest.raises(DecodeError, match="escaped index gap is out of range"):
        decode_indices(PayloadReader(_delta_block([3, 7], 3, [1000], d)), d)  # an escape >= d
    with pytest.raises(DecodeError, match="out of range for a vector of 1000"):
        decode_indices(PayloadReader(_delta_block([6] * 150, 3, [], d)), d)  # 150 gaps of 6 run past 999
    with pytest.raises(DecodeError, match="width 11 is outside"):
        decode_indices(PayloadReader(_delta_block([1], 11, [], d)), d)


def test_vectors_past_two_to_the_31_bound_the_gap_sum_before_the_running_sum():
    d = (1 << 33) + 5  # no vector is allocated: only the k indices are
    w = 34  # the escape width of d
    ok = _delta_block([d - 2, 0], w, [], d)
    assert decode_indices(PayloadReader(ok), d).tolist() == [d - 2, d - 1]
    with pytest.raises(DecodeError, match="run past the end"):
        decode_indices(PayloadReader(_delta_block([d - 2] * 4, w, [], d)), d)
