"""`none` (aliases `fp32`, `dense`): the uncompressed baseline, with a real wire format.

The synchronous baseline still sends bytes, and they must be counted the same way as every other
codec's: 4 bytes per entry plus the envelope header.
"""

from __future__ import annotations

import numpy as np
import torch

from dist_llm_train.compression.dense import DenseCodec
from dist_llm_train.compression.wire import check_finite, readonly_tensor, writable_tensor


class IdentityCodec(DenseCodec):
    name = "none"

    @property
    def spec(self) -> str:
        return "none"

    def payload_nbytes(self, n: int) -> int:
        return 4 * n

    def encode_into(self, values: torch.Tensor, dst: np.ndarray) -> None:
        writable_tensor(dst, torch.float32).copy_(values)

    def decode_from(self, payload: memoryview, n: int, out: torch.Tensor) -> torch.Tensor:
        out.copy_(readonly_tensor(payload, torch.float32, n))
        check_finite(out, "fp32 payload")
        return out
