"""Unsigned integer codes of any width as a little-endian, LSB-first bit stream.

QSGD levels, delta-coded sparse indices and sign bits all need "n codes of w bits in ceil(n*w/8)
bytes". Code i occupies bits [i*w, (i+1)*w) of the stream, least significant bit first, so any
run of codes whose start is a multiple of 8 begins on a byte boundary: callers may pack a long
vector chunk by chunk (chunks of a multiple of 8 codes) and get the same bytes as one call.
Whole-byte widths are plain little-endian integers. Packing the others goes through numpy's C
bit packers on a bit matrix (bounded chunks, so memory stays small). Unpacking reads each code
from an unaligned little-endian word instead (see `_unpack_windows`): the bit matrix spends a byte
per bit, 8x the data, and was most of the time a top-k push spent decoding its index gaps.
"""

from __future__ import annotations

import sys

import numpy as np
import torch

if sys.byteorder != "little":  # the byte-plane paths reinterpret integer memory
    raise ImportError("dist_llm_train.compression.bitpack needs a little-endian machine")

_CHUNK = 1 << 18  # codes per step of the bit-matrix path (a multiple of 8)


def packed_nbytes(n: int, width: int) -> int:
    return (n * width + 7) // 8


def _check_width(width: int) -> None:
    if not 1 <= width <= 63:
        raise ValueError(f"bit width must be in 1..63, got {width}")


def _code_bytes(width: int) -> int:
    return 1 if width <= 8 else 2 if width <= 16 else 4 if width <= 32 else 8


_INT = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}
_NPINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def pack(codes: torch.Tensor, width: int, out: np.ndarray | None = None) -> np.ndarray:
    """Pack integer codes (each < 2**width, not checked) into `out` (uint8, packed_nbytes long)."""
    _check_width(width)
    flat = codes.reshape(-1)
    n = flat.numel()
    nbytes = packed_nbytes(n, width)
    if out is None:
        out = np.empty(nbytes, dtype=np.uint8)
    elif out.size != nbytes:
        raise ValueError(f"out has {out.size} bytes, {n} codes of {width} bits need {nbytes}")
    if n == 0:
        return out
    if width == 8:
        torch.from_numpy(out).copy_(flat)
        return out
    if width == 1:
        out[:] = np.packbits(flat.to(torch.bool).numpy(), bitorder="little")
        return out
    cb = _code_bytes(width)
    if width == 8 * cb:
        torch.from_numpy(out).view(n, cb).copy_(flat.to(_INT[cb]).view(torch.uint8).view(n, cb))
        return out
    if width in (2, 4):  # whole codes per byte: numpy shifts on strided columns
        per = 8 // width
        c = np.zeros(((n + per - 1) // per) * per, dtype=np.uint8)
        c[:n] = flat.to(torch.uint8).numpy()
        c = c.reshape(-1, per)
        acc = c[:, 0].copy()
        for i in range(1, per):
            acc |= c[:, i] << np.uint8(width * i)
        out[:] = acc
        return out
    for a in range(0, n, _CHUNK):
        b = min(n, a + _CHUNK)
        raw = flat[a:b].to(_INT[cb]).numpy().view(np.uint8).reshape(-1)
        bits = np.unpackbits(raw, bitorder="little").reshape(b - a, 8 * cb)[:, :width]
        lo = a * width // 8
        out[lo : lo + packed_nbytes(b - a, width)] = np.packbits(bits.reshape(-1), bitorder="little")
    return out


def unpack(buf: bytes | memoryview | np.ndarray, n: int, width: int) -> torch.Tensor:
    """Inverse of `pack`: uint8 codes for width <= 8, int64 otherwise. `buf` must be exactly sized."""
    _check_width(width)
    nbytes = packed_nbytes(n, width)
    src = buf if isinstance(buf, np.ndarray) else np.frombuffer(buf, dtype=np.uint8)
    if src.size != nbytes:
        raise ValueError(f"{src.size} bytes given, {n} codes of {width} bits need {nbytes}")
    if n == 0:
        return torch.empty(0, dtype=torch.uint8 if width <= 8 else torch.int64)
    if width == 8:
        return torch.from_numpy(src.copy())
    if width == 1:
        return torch.from_numpy(np.unpackbits(src, count=n, bitorder="little"))
    cb = _code_bytes(width)
    if width == 8 * cb:
        return torch.from_numpy(src.copy().view(_NPINT[cb]).astype(np.int64, copy=False))
    if width in (2, 4):
        per, mask = 8 // width, np.uint8((1 << width) - 1)
        parts = [(src >> np.uint8(width * i)) & mask for i in range(per)]
        return torch.from_numpy(np.stack(parts, axis=1).reshape(-1)[:n].copy())
    return torch.from_numpy(_unpack_windows(src, n, width))


_BLOCKS = 1 << 15  # blocks of 8 codes per step of the window path: its temporaries stay in L2


def _unpack_windows(src: np.ndarray, n: int, width: int) -> np.ndarray:
    """Codes of any width from unaligned little-endian words: uint8 for width <= 8, else int64.

    Eight codes fill exactly `width` bytes, so the stream is a matrix of blocks of `width` bytes
    and code j of every block starts at the same bit, j * width, of its block. A strided numpy
    view with a stride of `width` bytes reads, for all blocks at once, the 32-bit (width <= 25)
    or 64-bit word at byte (j * width) >> 3; shifted right by (j * width) & 7 and masked it is
    code j. Codes wider than 57 bits can straddle 9 bytes: their top bits come from the next
    64-bit word. That is 8 vectorised passes over n / 8 words instead of a bit matrix of n * width
    bytes. The input is copied once into a zero-padded buffer so every window of the last
    (partial) block stays in bounds; codes past n are read from padding and dropped.
    """
    nb = (n + 7) // 8
    pad = np.zeros(nb * width + 16, dtype=np.uint8)
    pad[: src.size] = src
    word, wdt = (np.uint32, np.dtype("<u4")) if width <= 25 else (np.uint64, np.dtype("<u8"))
    mask = word((1 << width) - 1)
    out = np.empty((nb, 8), dtype=np.uint8 if width <= 8 else np.int64)
    step = min(nb, _BLOCKS)
    rows = np.empty((8, step), dtype=word)
    for a in range(0, nb, step):
        m = min(step, nb - a)
        r = rows[:, :m]
        base = a * width
        for j in range(8):
            byte, shift = divmod(j * width, 8)
            win = np.ndarray((m,), dtype=wdt, buffer=pad, offset=base + byte, strides=(width,))
            np.right_shift(win, word(shift), out=r[j])
            if width + shift > 64:  # only 64-bit words: the code's top bits start the next word
                hi = np.ndarray((m,), dtype=wdt, buffer=pad, offset=base + byte + 8, strides=(width,))
                r[j] |= hi << word(64 - shift)
        r &= mask
        out[a : a + m] = r.T
    return out.reshape(-1)[:n]
