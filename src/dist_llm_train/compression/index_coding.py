"""Sorted, distinct sparse indices in close to k*log2(d/k) bits.

Two layouts, whichever is smaller for the message at hand:

* delta: gaps g_0 = i_0, g_j = i_j - i_(j-1) - 1 (>= 0 because indices are distinct and sorted),
  bit-packed at a width w chosen per message to minimise the total size; a gap that does not fit
  in w bits is written as the escape code 2^w - 1 and its true value goes to a list of escapes
  packed at the width of d - 1. For top-1% of a vector, w lands near log2(d/k) + 2 and escapes
  are rare.
* bitmap: one bit per entry (wins above roughly one index in eight).

Layout: kind u8 (0 delta, 1 bitmap), count u64, then for delta: width u8, escapes u64,
packed gaps, packed escapes; for bitmap: ceil(d/8) bytes, LSB first. Decoding checks every
field against d before allocating, so a hostile message cannot ask for more memory than its own
length implies, nor produce an index out of range, a duplicate or a reordering.
"""

from __future__ import annotations

import numpy as np
import torch

from dist_llm_train.compression import bitpack
from dist_llm_train.compression.wire import PayloadReader, pack_u8, pack_u64
from dist_llm_train.errors import DecodeError

DELTA, BITMAP = 0, 1
#: vectors shorter than this cannot overflow the int64 running sum of their gaps (2d^2 < 2^63)
_EXACT_SUM_LIMIT = 1 << 31


def escape_width(d: int) -> int:
    return max(1, (d - 1).bit_length())


def encode_indices(idx: torch.Tensor, d: int) -> bytes:
    """Encode sorted distinct int64 indices in [0, d)."""
    k = idx.numel()
    head = pack_u8(DELTA) + pack_u64(k)
    if k == 0:
        return head + pack_u8(1) + pack_u64(0)
    we = escape_width(d)
    gaps = torch.diff(idx, prepend=torch.tensor([-1], dtype=torch.int64)) - 1
    bitlen = torch.frexp((gaps + 1).to(torch.float64)).exponent.to(torch.int64)  # bit length of gap+1
    hist = torch.bincount(bitlen, minlength=we + 2)
    # a gap needs an escape at width w when gap + 1 >= 2^w, i.e. bitlen(gap + 1) > w
    above = torch.flip(torch.cumsum(torch.flip(hist, [0]), 0), [0])  # above[b] = #(bitlen >= b)
    best_w, best = 1, None
    for w in range(1, we + 1):
        n_esc = int(above[w + 1])
        size = bitpack.packed_nbytes(k, w) + bitpack.packed_nbytes(n_esc, we)
        if best is None or size < best:
            best_w, best = w, size
    if (d + 7) // 8 < best + 9:  # the delta layout also spends a width byte and an escape count
        mask = np.zeros(d, dtype=bool)
        mask[idx.numpy()] = True
        return pack_u8(BITMAP) + pack_u64(k) + np.packbits(mask, bitorder="little").tobytes()
    w = best_w
    esc = (1 << w) - 1
    big = gaps >= esc
    codes = torch.where(big, torch.full_like(gaps, esc), gaps)
    escapes = gaps[big]
    return b"".join((head, pack_u8(w), pack_u64(escapes.numel()), bitpack.pack(codes, w).tobytes(),
                     bitpack.pack(escapes, we).tobytes()))


def decode_indices(r: PayloadReader, d: int) -> torch.Tensor:
    """Read one index block from `r`; returns sorted distinct int64 indices in [0, d)."""
    kind = r.u8()
    k = r.u64()
    if k > d:
        raise DecodeError(f"sparse message claims {k} indices for a vector of {d}")
    if kind == BITMAP:
        packed = np.frombuffer(r.take((d + 7) // 8), dtype=np.uint8)
        bits = np.unpackbits(packed, bitorder="little")
        if bits[d:].any():
            raise DecodeError("sparse bitmap has bits set past the end of the vector")
        idx = torch.from_numpy(np.flatnonzero(bits[:d]).astype(np.int64))
        if idx.numel() != k:
            raise DecodeError(f"sparse bitmap holds {idx.numel()} indices, the header says {k}")
        return idx
    if kind != DELTA:
        raise DecodeError(f"unknown index layout {kind} (0 = delta, 1 = bitmap)")
    w = r.u8()
    we = escape_width(d)
    if not 1 <= w <= we:
        raise DecodeError(f"index gap width {w} is outside 1..{we} for a vector of {d}")
    n_esc = r.u64()
    if n_esc > k:
        raise DecodeError(f"{n_esc} escaped gaps for {k} indices")
    codes_raw = r.take(bitpack.packed_nbytes(k, w))
    esc_raw = r.take(bitpack.packed_nbytes(n_esc, we))
    if k == 0:
        if n_esc:
            raise DecodeError("escapes present in an empty index block")
        return torch.empty(0, dtype=torch.int64)
    codes = bitpack.unpack(codes_raw, k, w)  # uint8 for w <= 8: the escape count reads 1 byte a code
    esc = (1 << w) - 1
    big = codes == esc
    n_big = int(torch.count_nonzero(big))
    if n_big != n_esc:
        raise DecodeError(f"index block has {n_big} escape codes but {n_esc} escapes")
    gaps = codes.to(torch.int64)  # a fresh vector either way (unpack's own, or the widened copy)
    if n_esc:
        escapes = bitpack.unpack(esc_raw, n_esc, we).to(torch.int64)
        if int(escapes.min()) < esc or int(escapes.max()) >= d:
            raise DecodeError("an escaped index gap is out of range")
        gaps.masked_scatter_(big, escapes)  # the escapes in order, at the escape codes' positions
    # every gap is < max(2^w, d) <= 2d and k <= d, so below 2^31 entries the exact int64 cumsum
    # cannot overflow and its last entry is the bound check; above that, bound the sum in
    # float64 first
    if d >= _EXACT_SUM_LIMIT and float(gaps.to(torch.float64).sum()) + k > d + 1:
        raise DecodeError("sparse indices run past the end of the vector")
    # i_j = sum(g_t + 1 for t <= j) - 1: add 1 to every gap but the first, then one in-place cumsum
    gaps.add_(1)
    gaps[0] -= 1
    idx = gaps.cumsum_(0)
    if int(idx[-1]) >= d:
        raise DecodeError(f"sparse index {int(idx[-1])} is out of range for a vector of {d}")
    return idx
