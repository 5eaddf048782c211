"""`sign`: one bit per entry plus one fp32 scale (scaled signSGD, as in EF-signSGD).

The decoded vector is scale * sign(x) with scale = mean |x| = ||x||_1 / d, the scale that
minimises ||scale * sign(x) - x||_2 among all scales times signs. Zero counts as positive. The
scaled sign is biased, so use it with error feedback (Karimireddy et al. 2019). Bits are packed 8
to a byte, LSB first; decoding expands each byte through a 256 x 8 lookup table in one pass.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from dist_llm_train.compression.dense import DenseCodec
from dist_llm_train.compression.wire import PayloadReader, writable_tensor
from dist_llm_train.errors import DecodeError

# row b holds the 8 signs (+1 / -1) encoded by byte b, bit i = entry i
_TABLE = torch.tensor([[1.0 if (b >> i) & 1 else -1.0 for i in range(8)] for b in range(256)])


class SignCodec(DenseCodec):
    name = "sign"

    def __init__(self):
        self._mask: torch.Tensor | None = None

    @property
    def spec(self) -> str:
        return "sign"

    def payload_nbytes(self, n: int) -> int:
        return 4 + (n + 7) // 8

    def encode_into(self, values: torch.Tensor, dst: np.ndarray) -> None:
        n = values.numel()
        scale = float(torch.linalg.vector_norm(values, ord=1)) / n if n else 0.0
        if not math.isfinite(scale):
            raise ValueError("sign: the vector to encode contains NaN or Inf (or overflows its L1 norm)")
        writable_tensor(dst[:4], torch.float32)[0] = scale
        if self._mask is None or self._mask.numel() < n:
            self._mask = torch.empty(n, dtype=torch.bool)
        mask = self._mask[:n]
        torch.ge(values, 0, out=mask)
        dst[4:] = np.packbits(mask.numpy(), bitorder="little")

    def decode_from(self, payload: memoryview, n: int, out: torch.Tensor) -> torch.Tensor:
        r = PayloadReader(payload, "sign payload")
        scale = r.f32()
        if scale < 0:
            raise DecodeError(f"sign payload: scale {scale} is negative")
        packed = r.tensor(torch.uint8, (n + 7) // 8)
        r.finish()
        table = _TABLE * scale
        full = n // 8
        if full:
            torch.index_select(table, 0, packed[:full].to(torch.int32), out=out[: full * 8].view(full, 8))
        if n % 8:
            out[full * 8 :] = table[int(packed[full])][: n % 8]
        return out
