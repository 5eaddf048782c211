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
