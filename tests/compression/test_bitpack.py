import numpy as np
import pytest
import torch

from dist_llm_train.compression.bitpack import pack, packed_nbytes, unpack


def reference(codes, w):
    bits = "".join(format(int(c), f"0{w}b")[::-1] for c in codes)
    bits += "0" * (-len(bits) % 8)
    return bytes(int(bits[i : i + 8][::-1], 2) for i in range(0, len(bits), 8))


@pytest.mark.parametrize("w", [1, 2, 3, 4, 5, 7, 8, 9, 12, 16, 17, 24, 31, 32, 40])
@pytest.mark.parametrize("n", [0, 1, 8, 13, 100])
def test_lsb_first_stream_and_roundtrip(w, n):
    codes = torch.randint(0, 2**w, (n,), dtype=torch.int64, generator=torch.Generator().manual_seed(w * 1000 + n))
    packed = pack(codes, w)
    assert packed.size == packed_nbytes(n, w)
    assert packed.tobytes() == reference(codes.tolist(), w)
    assert torch.equal(unpack(packed.tobytes(), n, w).to(torch.int64), codes)


def test_chunked_packing_equals_one_call():
    codes = torch.randint(0, 2**5, (800,), dtype=torch.int64)
    whole = pack(codes, 5)
    parts = np.concatenate([pack(codes[a : a + 160], 5) for a in range(0, 800, 160)])
    assert whole.tobytes() == parts.tobytes()


def test_wrong_sizes_are_refused():
    with pytest.raises(ValueError):
        unpack(b"\x00" * 3, 8, 4)
    with pytest.raises(ValueError):
        pack(torch.zeros(4, dtype=torch.int64), 0)


def bit_matrix_unpack(buf: bytes, n: int, width: int) -> np.ndarray:
    """The previous general unpack (a bit matrix through numpy's unpackbits / packbits), kept here
    as the reference the word-window path must match bit for bit."""
    src = np.frombuffer(buf, dtype=np.uint8)
    cb = 1 if width <= 8 else 2 if width <= 16 else 4 if width <= 32 else 8
    bits = np.unpackbits(src, count=n * width, bitorder="little")
    wide = np.zeros((n, 8 * cb), dtype=np.uint8)
    wide[:, :width] = bits.reshape(n, width)
    res = np.packbits(wide.reshape(-1), bitorder="little").reshape(n, cb)
    return res.view({1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[cb]).reshape(n)


@pytest.mark.parametrize("w", range(1, 64))
def test_unpack_equals_the_bit_matrix_path_for_every_width(w):
    gen = torch.Generator().manual_seed(w)
    sizes = [1, 7, 8, 9, 63, 64, 65] + torch.randint(100, 5000, (3,), generator=gen).tolist()
    for n in sizes:
        hi = 2**w
        # all-ones codes, zero codes and random codes (int64 cannot hold 2**63: draw below it)
        codes = torch.randint(0, min(hi, 2**62), (n,), dtype=torch.int64, generator=gen)
        if w == 63:
            codes |= torch.randint(0, 2, (n,), dtype=torch.int64, generator=gen) << 62
        codes[: n // 3] = hi - 1 if w < 63 else (1 << 63) - 1
        codes[n // 3 : n // 2] = 0
        packed = pack(codes, w).tobytes()
        got = unpack(packed, n, w)
        assert got.dtype == (torch.uint8 if w <= 8 else torch.int64)
        ref = bit_matrix_unpack(packed, n, w)
        assert np.array_equal(got.numpy().astype(np.uint64), ref.astype(np.uint64)), (w, n)
        assert torch.equal(got.to(torch.int64), codes), (w, n)


@pytest.mark.parametrize("w", [3, 9, 27, 58, 63])
def test_unpack_of_many_blocks_crosses_its_step_boundaries(w):
    from dist_llm_train.compression import bitpack

    n = 8 * bitpack._BLOCKS * 2 + 13  # two full steps of the window path and a partial one
    codes = torch.randint(0, min(2**w, 2**62), (n,), dtype=torch.int64, generator=torch.Generator().manual_seed(w))
    packed = pack(codes, w).tobytes()
    assert torch.equal(unpack(packed, n, w).to(torch.int64), codes)
    assert np.array_equal(unpack(packed, n, w).numpy().astype(np.uint64),
                          bit_matrix_unpack(packed, n, w).astype(np.uint64))


def test_unpack_ignores_nothing_but_the_final_padding_bits():
    # a stream's last byte may carry pad bits; they never leak into a code
    codes = torch.tensor([5, 1, 7], dtype=torch.int64)
    packed = bytearray(pack(codes, 3).tobytes())
    packed[-1] |= 0xFE & ~((1 << (9 - 8)) - 1)  # set every pad bit past the 9 code bits
    assert torch.equal(unpack(bytes(packed), 3, 3).to(torch.int64), codes)
