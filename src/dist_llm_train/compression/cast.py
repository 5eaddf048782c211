"""`fp16` and `bf16`: every entry cast to a 16-bit float (2x smaller than fp32, deterministic).

fp16 keeps 10 mantissa bits but overflows above 65504, so values beyond that are saturated to
+-65504 instead of becoming Inf (the decoder rejects Inf). bf16 keeps the fp32 exponent range
with 7 mantissa bits. Both round to nearest even. A single aminmax pass (cheap, and it
propagates NaN) decides whether the slow saturating path is needed at all; it runs chunk by chunk
just before the cast, so the cast reads from cache and the check costs little.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from dist_llm_train.compression.dense import DenseCodec
from dist_llm_train.compression.wire import check_finite, chunks, finite_range, readonly_tensor, writable_tensor

_LIMITS = {torch.float16: 65504.0, torch.bfloat16: float(torch.finfo(torch.bfloat16).max)}


class CastCodec(DenseCodec):
    """Dense cast to `dtype` (torch.float16 or torch.bfloat16)."""

    def __init__(self, dtype: torch.dtype):
        if dtype not in _LIMITS:
            raise ValueError(f"CastCodec supports float16 and bfloat16, not {dtype}")
        self.dtype = dtype
        self.name = "fp16" if dtype == torch.float16 else "bf16"
        self._limit = _LIMITS[dtype]
        self.item_dtype = dtype

    @property
    def spec(self) -> str:
        return self.name

    def payload_nbytes(self, n: int) -> int:
        return 2 * n

    def encode_into(self, values: torch.Tensor, dst: np.ndarray) -> None:
        half = writable_tensor(dst, self.dtype)
        for a, b in chunks(values.numel()):
            src = values[a:b]
            lo, hi = finite_range(src)
            if not (math.isfinite(lo) and math.isfinite(hi)):
                raise ValueError(f"{self.name}: the vector to encode contains NaN or Inf")
            if lo < -self._limit or hi > self._limit:
                src = src.clamp(-self._limit, self._limit)
            half[a:b].copy_(src)

    def decode_from(self, payload: memoryview, n: int, out: torch.Tensor) -> torch.Tensor:
        half = readonly_tensor(payload, self.dtype, n)
        for a, b in chunks(n):
            out[a:b].copy_(half[a:b])
            check_finite(out[a:b], self.payload_what)
        return out
