"""`qsgd:S[:B]`: QSGD stochastic quantisation (Alistarh et al. 2017), bucketed, bit-packed.

Each bucket of B consecutive entries (default 512, as in the paper's experiments) is sent as its
L2 norm (fp32) and, per entry, a signed level in {-S, ..., S}: Q(v)_i = norm * level_i / S with
level_i = v_i * S / norm rounded stochastically (up with probability equal to the fraction), so
E[Q(v)] = v and, per bucket, E||Q(v) - v||^2 <= min(B/S^2, sqrt(B)/S) ||v||^2. The 2S+1 codes
(level + S) use the narrowest width w = bitlen(2S): qsgd:1 is 2 bits (ternary), qsgd:7 is 4 bits,
qsgd:127 is 8 bits per entry (one byte, the fast path), qsgd:32767 is 16 bits.

Random numbers dominate the cost on big vectors, so the dither is built from 8 random bits per
entry (torch's int64 draws carry 63 random bits: 7 whole bytes, so one draw serves 7 entries) plus
one fp32 uniform U shared by the message:
dither_i = (j_i + U) / 256 with j_i uniform in 0..255 is exactly uniform on [0, 1) for every entry,
which keeps each entry exactly unbiased and its variance exactly that of the paper's quantiser
(only the errors of different entries become weakly dependent, which the bounds do not use).
Work is done in cache-sized chunks so the five elementwise passes touch main memory once.
The norm sent is the bucket norm times (1 + 2^-10): it keeps every code inside 0..2S despite fp32
rounding, and the decoder uses the same number, so the quantiser stays unbiased.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from dist_llm_train.compression import bitpack
from dist_llm_train.compression.dense import DenseCodec
from dist_llm_train.compression.wire import PayloadReader, readonly_tensor, writable_tensor
from dist_llm_train.errors import DecodeError

DEFAULT_BUCKET = 512
MAX_LEVELS = (1 << 15) - 1  # 16-bit codes
_NORM_MARGIN = 1.0 + 2.0**-10
_CHUNK = 1 << 20


class QSGDCodec(DenseCodec):
    name = "qsgd"

    def __init__(self, levels: int, bucket: int = DEFAULT_BUCKET, seed: int | None = None):
        if not 1 <= levels <= MAX_LEVELS:
            raise ValueError(f"qsgd levels S must be in 1..{MAX_LEVELS}, got {levels}")
        if bucket < 1:
            raise ValueError(f"qsgd bucket size must be >= 1, got {bucket}")
        self.levels = levels
        self.bucket = bucket
        self.width = (2 * levels).bit_length()
        unit = math.lcm(bucket, 56)  # chunks start on a bucket, a byte of packed codes and a random draw
        self._chunk = unit * max(1, _CHUNK // unit)
        self._gen = torch.Generator()
        if seed is None:
            self._gen.seed()
        else:
            self._gen.manual_seed(seed)
        self._fbuf: torch.Tensor | None = None
        self._rbuf: torch.Tensor | None = None
        self._cbuf: torch.Tensor | None = None

    @property
    def spec(self) -> str:
        return f"qsgd:{self.levels}:{self.bucket}"

    def n_buckets(self, n: int) -> int:
        return (n + self.bucket - 1) // self.bucket

    def payload_nbytes(self, n: int) -> int:
        return 4 * self.n_buckets(n) + bitpack.packed_nbytes(n, self.width)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"generator": self._gen.get_state()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self._gen.set_state(state["generator"])

    # -- encoding -----------------------------------------------------------------------------
    def _bucket_norms(self, values: torch.Tensor, norms: torch.Tensor, dtype: torch.dtype | None = None) -> None:
        n, b = values.numel(), self.bucket
        full = n // b
        if full:
            norms[:full] = torch.linalg.vector_norm(values[: full * b].view(full, b), dim=1, dtype=dtype)
        if n % b:
            norms[full] = torch.linalg.vector_norm(values[full * b :], dtype=dtype)

    def _buffers(self, m: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self._fbuf is None or self._fbuf.numel() < m:
            self._fbuf = torch.empty(m)
            self._rbuf = torch.empty((m + 6) // 7, dtype=torch.int64)
            self._cbuf = torch.empty(m, dtype=torch.int32)
        return self._fbuf, self._rbuf, self._cbuf

    def encode_into(self, values: torch.Tensor, dst: np.ndarray) -> None:
        n, s, b = values.numel(), self.levels, self.bucket
        nb = self.n_buckets(n)
        norms = writable_tensor(dst[: 4 * nb], torch.float32)
        codes_dst = dst[4 * nb :]
        if n == 0:
            return
        self._bucket_norms(values, norms)
        if not math.isfinite(float(norms.max())):  # squares overflow fp32 above ~1e19: redo in fp64
            self._bucket_norms(values, norms, torch.float64)
        if not math.isfinite(float(norms.max())):
            raise ValueError("qsgd: the vector to encode contains NaN or Inf (or a bucket norm overflows)")
        norms.mul_(_NORM_MARGIN)
        scale = torch.where(norms > 0, s / norms, torch.zeros(()))
        offset = s + float(torch.rand((), generator=self._gen)) / 256.0
        fbuf, rbuf, cbuf = self._buffers(min(n, self._chunk))
        for a in range(0, n, self._chunk):
            m = min(n, a + self._chunk) - a
            y = fbuf[:m]
            self._random_bytes(y, rbuf)
            y.mul_(1.0 / 256.0)
            self._scaled_add(y, values[a : a + m], scale, a // b)
            y.add_(offset)  # now in [0, 2S + 1): truncation is the stochastic rounding
            if self.width == 8:
                torch.from_numpy(codes_dst[a : a + m]).copy_(y)
            else:
                c = cbuf[:m]
                c.copy_(y)
                lo = a * self.width // 8
                bitpack.pack(c, self.width, out=codes_dst[lo : lo + bitpack.packed_nbytes(m, self.width)])

    def _random_bytes(self, y: torch.Tensor, rbuf: torch.Tensor) -> None:
        """Fill y with independent uniform integers 0..255, from bytes 0..6 of 63-bit draws."""
        m = y.numel()
        rows = (m + 6) // 7
        src = rbuf[:rows].random_(generator=self._gen).view(torch.uint8).view(rows, 8)[:, :7]
        full = m // 7
        y[: full * 7].view(full, 7).copy_(src[:full])
        if m % 7:
            y[full * 7 :].copy_(src[full, : m % 7])

    def _scaled_add(self, y: torch.Tensor, v: torch.Tensor, per_bucket: torch.Tensor, first: int) -> None:
        """y += v * per_bucket[bucket of each entry], for a chunk starting at bucket `first`."""
        b = self.bucket
        full = v.numel() // b
        if full:
            y[: full * b].view(full, b).addcmul_(v[: full * b].view(full, b), per_bucket[first : first + full, None])
        if v.numel() % b:
            y[full * b :].add_(v[full * b :], alpha=float(per_bucket[first + full]))

    # -- decoding -----------------------------------------------------------------------------
    def decode_from(self, payload: memoryview, n: int, out: torch.Tensor) -> torch.Tensor:
        s, nb = self.levels, self.n_buckets(n)
        r = PayloadReader(payload, "qsgd payload")
        norms = r.tensor(torch.float32, nb)
        codes = r.take(bitpack.packed_nbytes(n, self.width))
        r.finish()
        if nb:
            lo, hi = torch.aminmax(norms)
            if not (math.isfinite(float(hi)) and float(lo) >= 0):
                raise DecodeError("qsgd payload: bucket norms must be finite and >= 0")
        step = norms / s
        for a in range(0, n, self._chunk):
            m = min(n, a + self._chunk) - a
            lo = a * self.width // 8
            chunk = codes[lo : lo + bitpack.packed_nbytes(m, self.width)]
            c = readonly_tensor(chunk, torch.uint8, m) if self.width == 8 else bitpack.unpack(chunk, m, self.width)
            if int(c.max()) > 2 * s:
                raise DecodeError(f"qsgd payload: a code exceeds 2S = {2 * s}")
            y = out[a : a + m]
            y.copy_(c).sub_(s)
            self._scale(y, step, a // self.bucket)
        return out

    def _scale(self, y: torch.Tensor, per_bucket: torch.Tensor, first: int) -> None:
        b = self.bucket
        full = y.numel() // b
        if full:
            y[: full * b].view(full, b).mul_(per_bucket[first : first + full, None])
        if y.numel() % b:
            y[full * b :].mul_(float(per_bucket[first + full]))
