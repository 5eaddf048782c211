"""DenseCodec: the codecs that send a value for every entry (fp32, fp16, bf16, QSGD, sign).

They share one shape of payload (a size known from the entry count alone), which is what lets
them double as the value stage of a composition: `topk:0.01+fp16` hands the k selected values to
the fp16 codec, `powersgd:4+bf16` hands it the P and Q factors.
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np
import torch

from dist_llm_train.compression.base import Codec, Encoded
from dist_llm_train.compression.wire import PayloadPool, check_input, prepare_out
from dist_llm_train.errors import DecodeError


class DenseCodec(Codec):
    """A codec whose payload size depends only on the number of entries."""

    _pool: PayloadPool | None = None
    #: the wire type of an entry when each entry is encoded on its own as a plain little-endian
    #: float (fp32, fp16, bf16): such a payload can be decoded frame by frame as it arrives, by a
    #: cast (compression/stream.py); None for codecs whose entries share state (QSGD's bucket
    #: norms, sign's scale)
    item_dtype: torch.dtype | None = None

    @property
    def item_bytes(self) -> int | None:
        return None if self.item_dtype is None else torch.empty((), dtype=self.item_dtype).element_size()

    @property
    def payload_what(self) -> str:
        """How decode errors name this codec's payload (e.g. "fp16 payload")."""
        return f"{self.spec} payload"

    @abstractmethod
    def payload_nbytes(self, n: int) -> int:
        """Exact payload size for n entries (the wire-size formula the tests check)."""

    @abstractmethod
    def encode_into(self, values: torch.Tensor, dst: np.ndarray) -> None:
        """Write the payload for 1-D fp32 `values` into `dst` (uint8, payload_nbytes long)."""

    @abstractmethod
    def decode_from(self, payload: memoryview, n: int, out: torch.Tensor) -> torch.Tensor:
        """Fill `out` (n fp32) from an exactly sized payload; DecodeError on anything invalid."""

    def take_buffer(self, nbytes: int) -> np.ndarray:
        if self._pool is None:
            self._pool = PayloadPool()
        return self._pool.take(nbytes)

    def encode(self, flat: torch.Tensor) -> Encoded:
        check_input(flat, self.spec)
        dst = self.take_buffer(self.payload_nbytes(flat.numel()))
        self.encode_into(flat, dst)
        return Encoded(spec=self.spec, numel=flat.numel(), payload=memoryview(dst).toreadonly())

    def decode(self, enc: Encoded, out: torch.Tensor | None = None) -> torch.Tensor:
        check_spec(enc, self.spec)
        payload = memoryview(enc.payload)
        expected = self.payload_nbytes(enc.numel)
        if payload.nbytes != expected:
            raise DecodeError(f"{self.spec} payload for {enc.numel} entries must be {expected} bytes, "
                              f"got {payload.nbytes}")
        return self.decode_from(payload, enc.numel, prepare_out(out, enc.numel))


def check_spec(enc: Encoded, spec: str) -> None:
    if enc.spec != spec:
        raise DecodeError(f"message was encoded with {enc.spec!r}, this decoder is {spec!r}")
