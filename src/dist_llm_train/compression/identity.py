"""`none` (aliases `fp32`, `dense`): the uncompressed baseline, with a real wire format.

The synchronous baseline still sends bytes, and they must be counted the same way as every other
codec's: 4 bytes per entry plus the envelope header.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from dist_llm_train.compression.dense import DenseCodec
from dist_llm_train.compression.wire import check_finite, chunks, finite_range, readonly_tensor, writable_tensor


class IdentityCodec(DenseCodec):
    name = "none"
    item_dtype = torch.float32
    payload_what = "fp32 payload"

    @property
    def spec(self) -> str:
        return "none"

    def payload_nbytes(self, n: int) -> int:
        return 4 * n

    def encode_into(self, values: torch.Tensor, dst: np.ndarray) -> None:
        dense = writable_tensor(dst, torch.float32)
        for a, b in chunks(values.numel()):
            lo, hi = finite_range(values[a:b])
            if not (math.isfinite(lo) and math.isfinite(hi)):
                raise ValueError("none: the vector to encode contains NaN or Inf")
            dense[a:b].copy_(values[a:b])

    def decode_from(self, payload: memoryview, n: int, out: torch.Tensor) -> torch.Tensor:
        src = readonly_tensor(payload, torch.float32, n)
        for a, b in chunks(n):
            out[a:b].copy_(src[a:b])
            check_finite(out[a:b], self.payload_what)
        return out
