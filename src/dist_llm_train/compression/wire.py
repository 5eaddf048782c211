"""Payload plumbing shared by the codecs: bounded reads, typed views, finite checks, recycled buffers.

Decoding reads bytes from untrusted workers, so every read goes through `PayloadReader`, which
checks lengths before touching memory and raises `DecodeError` (never IndexError, struct.error or
a giant allocation). Encoding a 124M-entry vector writes hundreds of MB; fresh allocations of that
size cost more than the encoding itself here (page faults), so payload buffers come from a
`PayloadPool` that hands a buffer out again only once nothing refers to the previous message.
"""

from __future__ import annotations

import math
import struct
import sys
import warnings

import numpy as np
import torch

from dist_llm_train.errors import DecodeError

_U8 = struct.Struct("<B")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_F32 = struct.Struct("<f")

def readonly_tensor(buf: memoryview | bytes, dtype: torch.dtype, count: int) -> torch.Tensor:
    """A zero-copy torch view of `count` items of `dtype` at the start of `buf` (treat as read-only)."""
    itemsize = torch.empty((), dtype=dtype).element_size()
    have = memoryview(buf).nbytes
    if have < count * itemsize:
        raise DecodeError(f"payload truncated: {count} items of {dtype} need {count * itemsize} bytes, have {have}")
    if count == 0:
        return torch.empty(0, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns that the buffer is not writable; we only read it
        return torch.frombuffer(buf, dtype=dtype, count=count, offset=0)


def writable_tensor(arr: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """A torch view of a uint8 numpy buffer reinterpreted as `dtype` (length must be a multiple)."""
    if arr.size == 0:
        return torch.empty(0, dtype=dtype)
    return torch.from_numpy(arr).view(dtype)


CHUNK = 1 << 20  # entries per cache-sized step of the fused elementwise loops


def chunks(n: int, size: int = CHUNK):
    """(start, stop) pairs covering range(n): a check and a cast on one chunk share the cache."""
    return ((a, min(n, a + size)) for a in range(0, n, size))


def finite_range(t: torch.Tensor) -> tuple[float, float]:
    """(min, max) of t; NaN if any entry is NaN (aminmax propagates NaN)."""
    lo, hi = torch.aminmax(t)
    return float(lo), float(hi)


def check_finite(t: torch.Tensor, what: str) -> None:
    """Raise DecodeError when `t` holds NaN or Inf (aminmax is one fast pass and propagates NaN)."""
    if t.numel() == 0:
        return
    lo, hi = torch.aminmax(t)
    if not (math.isfinite(float(lo)) and math.isfinite(float(hi))):
        raise DecodeError(f"{what} contains NaN or Inf values")


def check_input(flat: torch.Tensor, who: str) -> None:
    if not isinstance(flat, torch.Tensor) or flat.dtype != torch.float32 or flat.dim() != 1:
        got = f"{flat.dtype} tensor of shape {tuple(flat.shape)}" if isinstance(flat, torch.Tensor) else type(flat)
        raise ValueError(f"{who} encodes a 1-D float32 vector, got a {got}")
    if not flat.is_contiguous():
        raise ValueError(f"{who} needs a contiguous vector; call .contiguous() first")


def prepare_out(out: torch.Tensor | None, numel: int) -> torch.Tensor:
    if out is None:
        return torch.empty(numel, dtype=torch.float32)
    if out.dtype != torch.float32 or out.dim() != 1 or out.numel() != numel or not out.is_contiguous():
        raise ValueError(f"out must be a contiguous 1-D float32 tensor of {numel} elements, got "
                         f"{out.dtype} {tuple(out.shape)}")
    return out


class PayloadReader:
    """Sequential, bounds-checked reads from a payload; every failure is a DecodeError."""

    def __init__(self, data: bytes | memoryview, what: str = "payload"):
        self.buf = memoryview(data)
        self.pos = 0
        self.what = what

    @property
    def remaining(self) -> int:
        return len(self.buf) - self.pos

    def take(self, n: int) -> memoryview:
        if n < 0 or n > self.remaining:
            raise DecodeError(f"{self.what} truncated: needs {n} more bytes at offset {self.pos}, "
                              f"has {self.remaining}")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def _unpack(self, st: struct.Struct):
        return st.unpack(self.take(st.size))[0]

    def u8(self) -> int:
        return self._unpack(_U8)

    def u32(self) -> int:
        return self._unpack(_U32)

    def u64(self) -> int:
        return self._unpack(_U64)

    def f32(self) -> float:
        v = self._unpack(_F32)
        if not math.isfinite(v):
            raise DecodeError(f"{self.what}: a scalar field is NaN or Inf")
        return v

    def tensor(self, dtype: torch.dtype, count: int) -> torch.Tensor:
        itemsize = torch.empty((), dtype=dtype).element_size()
        return readonly_tensor(self.take(count * itemsize), dtype, count)

    def finish(self) -> None:
        if self.remaining:
            raise DecodeError(f"{self.what} has {self.remaining} unexpected trailing bytes")


def pack_u8(v: int) -> bytes:
    return _U8.pack(v)


def pack_u32(v: int) -> bytes:
    return _U32.pack(v)


def pack_u64(v: int) -> bytes:
    return _U64.pack(v)


def pack_f32(v: float) -> bytes:
    return _F32.pack(v)


class PayloadPool:
    """Recycle large payload buffers once no message refers to them any more.

    A message's payload is a memoryview of a slice of one of these buffers; the slice keeps the
    buffer's reference count raised for as long as the message (or anything taken from it) lives,
    so a buffer is handed out again only when its count is back to the pool's own reference.
    Small payloads are plain fresh arrays (allocation is cheap below a few MB).
    """

    def __init__(self, keep: int = 2, min_bytes: int = 1 << 22):
        self._bufs: list[np.ndarray] = []
        self.keep = keep
        self.min_bytes = min_bytes

    def take(self, nbytes: int) -> np.ndarray:
        if nbytes < self.min_bytes:
            return np.empty(nbytes, dtype=np.uint8)
        free = [i for i in range(len(self._bufs)) if sys.getrefcount(self._bufs[i]) == 2]
        for i in free:
            if self._bufs[i].size >= nbytes:
                return self._bufs[i][:nbytes]
        fresh = np.empty(nbytes, dtype=np.uint8)
        if free:
            self._bufs[free[0]] = fresh
        elif len(self._bufs) < self.keep:
            self._bufs.append(fresh)
        return fresh[:nbytes]
