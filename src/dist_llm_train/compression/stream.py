"""Decoding an elementwise dense message frame by frame, as its bytes arrive.

A 124M-entry fp16 message is 249 MB. Received whole, it is copied frame by frame into a buffer and
then decoded in a second pass over all of it (and checked in a third); the fp32 result is written
long after the first bytes arrived. The elementwise codecs (`none`, `fp16`, `bf16`: each entry is
encoded on its own as a plain float, `DenseCodec.item_dtype` set) need no such buffer: every arriving frame can be
converted straight into its slice of the fp32 target and checked while that slice is still in
cache, and the conversion overlaps the network receiving the next frames. Nothing is skipped: the
envelope head is parsed and checked (magic, version, spec, sizes) before the first payload byte
is used, every value is checked finite, and a stream that is shorter or longer than its head says
is refused by `finish`.

What the target means is the caller's: the server decodes a push into a leased slot that reaches
the coordinator only once `finish` accepted the whole stream; a worker decodes a delta pull as
replica + delta into a spare vector and swaps it in only then, so a broken stream never leaves a
half-updated replica behind (see runtime/grpc/client.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import torch

from dist_llm_train.compression.base import Encoded
from dist_llm_train.compression.dense import DenseCodec
from dist_llm_train.compression.wire import readonly_tensor
from dist_llm_train.errors import DecodeError

#: entries per step inside one frame: conversion, check and add share the cache (4 MiB frames are
#: 2M fp16 entries, 8 MB once converted: more than a core's L2)
STEP = 1 << 19


def _finite(t: torch.Tensor) -> bool:
    """Whether every entry is finite: a NaN or Inf makes the fp32 sum non-finite; only a
    non-finite sum (a bad entry, or finite entries that overflow together) needs the exact pass."""
    if bool(torch.isfinite(t.sum())):
        return True
    return bool(torch.isfinite(t).all())


def take_head(frames: Iterator, limit: int) -> tuple[list, bytes]:
    """Read frames until an envelope head (magic, version, spec, sizes) is complete.

    Returns (the frames read, the message's first bytes up to the end of its head, or fewer when
    the stream ended first). Stops at `limit` bytes (the declared message length) and at an empty
    frame, and refuses nothing itself: the caller passes the frames read, unchanged, through its
    own length and framing checks, whichever path it then takes. A head is at most 277 bytes, so
    a hostile sender of one-byte frames costs a few hundred iterations here, no more.
    """
    read: list = []
    head = bytearray()
    need = None
    got = 0
    while got < limit:
        frame = next(frames, None)
        if frame is None:
            break
        read.append(frame)
        n = len(frame)
        if n == 0:
            break
        got += n
        if need is None or len(head) < need:
            head += memoryview(frame)[: max(0, (need or 512) - len(head))]
        if need is None:
            need = Encoded.head_length(head)
        if need is not None and len(head) >= need:
            break
    return read, bytes(head[:need] if need is not None else head)


class StreamDecoder:
    """Decode one elementwise message's payload, fed in frames of any length, into `out`.

    With `base`, `out` receives base + decoded (a replica plus a delta); `base` itself is never
    written. With `check_finite=False` non-finite values pass (a full parameter pull: the server
    sends what it has). Errors are collected and raised by `finish`, after the stream has been
    read to its end, so the caller can report a stream of the wrong length first, as a whole-message
    decode would. After a bad value the rest of the stream is only counted, not converted.
    """

    def __init__(self, codec: DenseCodec, numel: int, out: torch.Tensor, base: torch.Tensor | None = None,
                 check_finite: bool = True):
        if codec.item_dtype is None:
            raise ValueError(f"{codec.spec} is not an elementwise codec: it cannot be decoded frame by frame")
        for name, t in (("out", out), ("base", base)):
            if t is not None and (t.dtype != torch.float32 or t.dim() != 1 or t.numel() != numel
                                  or not t.is_contiguous()):
                raise ValueError(f"{name} must be a contiguous 1-D float32 tensor of {numel} elements")
        self.codec = codec
        self.item = codec.item_bytes
        self.numel = numel
        self.out = out
        self.base = base
        self.check = check_finite
        self.pos = 0  # entries written
        self.received = 0  # payload bytes fed
        self.bad = False
        self._carry = b""  # the first bytes of an entry split across two frames

    @property
    def expected_bytes(self) -> int:
        return self.numel * self.item

    def feed(self, frame: bytes | bytearray | memoryview) -> None:
        view = memoryview(frame).cast("B")
        n = len(view)
        self.received += n
        if self.received > self.expected_bytes:
            return  # finish() refuses it; nothing past the target is written
        if self._carry:
            need = self.item - len(self._carry)
            self._carry += bytes(view[:need])
            view = view[need:]
            if len(self._carry) == self.item:
                self._convert(memoryview(self._carry), 1)
                self._carry = b""
        whole = len(view) - len(view) % self.item
        if whole:
            self._convert(view[:whole], whole // self.item)
        if whole < len(view):
            self._carry = bytes(view[whole:])

    def _convert(self, payload: memoryview, count: int) -> None:
        a = self.pos
        self.pos += count
        if self.bad:
            return
        src = readonly_tensor(payload, self.codec.item_dtype, count)  # one zero-copy view per frame
        for s in range(0, count, STEP):
            m = min(STEP, count - s)
            dst = self.out[a + s : a + s + m]
            dst.copy_(src[s : s + m])  # the codec's decode: a cast to fp32 (exact for fp16 and bf16)
            if self.check and not _finite(dst):
                self.bad = True
                return
            if self.base is not None:
                dst.add_(self.base[a + s : a + s + m])  # delta + base: the same fp32 sum as base + delta

    def finish(self) -> torch.Tensor:
        """The decoded vector, or DecodeError: too few or too many bytes, or a non-finite value."""
        if self.received != self.expected_bytes:
            raise DecodeError(f"payload length is {self.received} bytes, {self.numel} entries of "
                              f"{self.codec.spec} need {self.expected_bytes}")
        if self.bad:
            raise DecodeError(f"{self.codec.payload_what} contains NaN or Inf values")
        return self.out



def feed_frames(frames, total: int, decoder: StreamDecoder, skip: int = 0,
                fail: Callable[[str], Exception] = ValueError, refuse_empty: bool = False) -> float:
    """Feed a payload's frames to `decoder` after its first `skip` bytes (an envelope head), then
    finish it, refusing a stream longer or shorter than `total` (and, with `refuse_empty`, empty
    frames: they carry nothing but cost a wake-up each) with `fail(message)`. The server's pushes and
    the worker's pulls share it; returns the seconds spent decoding (overlapped with the receive,
    but counted)."""
    pos, seconds = 0, 0.0
    clock = time.perf_counter
    for frame in frames:
        n = len(frame)
        if n == 0 and refuse_empty:
            raise fail("a payload frame is empty")
        if pos + n > total:
            raise fail(f"payload is longer than the declared total_bytes {total}")
        pos += n
        if skip >= n:
            skip -= n
            continue
        t0 = clock()
        decoder.feed(memoryview(frame)[skip:] if skip else frame)
        seconds += clock() - t0
        skip = 0
    if pos != total:
        raise fail(f"payload truncated: received {pos} bytes, the header declared {total}")
    t0 = clock()
    decoder.finish()
    return seconds + clock() - t0
