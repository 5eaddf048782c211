"""The codec contract and the wire envelope every encoded update travels in.

A codec turns a flat fp32 vector into an `Encoded` message and back. `Encoded.to_bytes()` is the
exact wire format (a small versioned header plus the codec's payload; never pickle), and
`wire_bytes == len(to_bytes())` is what every byte count in the system is made of.

Envelope (little-endian):
    magic   4s   b"DLTC"
    version u8   WIRE_VERSION
    speclen u8   length of the codec spec string
    spec    ...  ascii codec spec, e.g. b"topk:0.05+fp16" (the decoder rebuilds the codec from it)
    numel   u64  length of the decoded flat vector
    paylen  u64  payload length in bytes
    payload ...
"""

from __future__ import annotations

import struct
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import torch

from dist_llm_train.errors import DecodeError

MAGIC = b"DLTC"
WIRE_VERSION = 1
_HEAD = struct.Struct("<4sBB")
_SIZES = struct.Struct("<QQ")
MAX_NUMEL = 1 << 40


@dataclass
class Encoded:
    """One encoded vector: the codec spec that made it, the decoded length, and the payload bytes."""

    spec: str
    numel: int
    #: bytes-like (bytes, or a read-only memoryview of a buffer the codec recycles only once
    #: nothing refers to it any more); `to_bytes()` returns an owned copy of the whole frame.
    payload: bytes | memoryview
    meta: dict[str, Any] = field(default_factory=dict)  # local-only facts (never sent)

    @property
    def header_bytes(self) -> int:
        return _HEAD.size + len(self.spec.encode("ascii")) + _SIZES.size

    @property
    def wire_bytes(self) -> int:
        return self.header_bytes + self.payload_bytes

    @property
    def payload_bytes(self) -> int:
        return memoryview(self.payload).nbytes

    def head(self) -> bytes:
        """The envelope up to the payload: `head() + payload` is `to_bytes()`, for senders that
        stream the two parts without joining them into one more copy."""
        spec = self.spec.encode("ascii")
        if len(spec) > 255:
            raise ValueError(f"codec spec too long for the wire ({len(spec)} > 255 bytes)")
        return b"".join((_HEAD.pack(MAGIC, WIRE_VERSION, len(spec)), spec, _SIZES.pack(self.numel, self.payload_bytes)))

    def to_bytes(self) -> bytes:
        return b"".join((self.head(), self.payload))

    @staticmethod
    def read_head(data: bytes | bytearray | memoryview,
                  expected_numel: int | None = None) -> tuple[str, int, int, int] | None:
        """Parse and check the envelope up to the payload: (spec, numel, payload length, head length).

        None when `data` ends before the head does (a receiver holding only the first frames of a
        stream asks again with more); DecodeError for a head that is wrong whatever follows it.
        """
        buf = memoryview(data)
        if buf.format != "B" or buf.ndim != 1:
            buf = buf.cast("B")
        if len(buf) < _HEAD.size:
            return None
        magic, version, speclen = _HEAD.unpack_from(buf, 0)
        if magic != MAGIC:
            raise DecodeError(f"not an encoded update: magic {bytes(magic)!r}, expected {MAGIC!r}")
        if version != WIRE_VERSION:
            raise DecodeError(f"wire format version {version} is not supported (this build reads {WIRE_VERSION})")
        pos = _HEAD.size
        if len(buf) < pos + speclen + _SIZES.size:
            return None
        try:
            spec = bytes(buf[pos : pos + speclen]).decode("ascii")
        except UnicodeDecodeError as exc:
            raise DecodeError("codec spec in the header is not ascii") from exc
        pos += speclen
        numel, paylen = _SIZES.unpack_from(buf, pos)
        pos += _SIZES.size
        if numel > MAX_NUMEL:
            raise DecodeError(f"header claims {numel} elements, more than any model this server accepts")
        if expected_numel is not None and numel != expected_numel:
            raise DecodeError(f"message is for a vector of {numel} elements, the model has {expected_numel}")
        return spec, int(numel), int(paylen), pos

    @staticmethod
    def head_length(prefix: bytes | bytearray | memoryview) -> int | None:
        """How long the envelope head is, from its first 6 bytes (None: fewer bytes than that)."""
        buf = memoryview(prefix).cast("B")
        if len(buf) < _HEAD.size:
            return None
        return _HEAD.size + buf[_HEAD.size - 1] + _SIZES.size

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview, expected_numel: int | None = None) -> Encoded:
        """Parse and check the envelope (not the payload: the codec's decode checks that).

        The payload is a zero-copy view of `data` (a 124M-entry message is hundreds of MB), so the
        result is valid only while `data` is alive and unchanged.
        """
        buf = memoryview(data)
        if buf.format != "B" or buf.ndim != 1:
            buf = buf.cast("B")
        head = cls.read_head(buf, expected_numel)
        if head is None:
            if len(buf) < _HEAD.size:
                raise DecodeError(f"message truncated: {len(buf)} bytes, the header alone needs {_HEAD.size}")
            raise DecodeError("message truncated inside the header")
        spec, numel, paylen, pos = head
        if len(buf) - pos != paylen:
            raise DecodeError(f"payload length is {len(buf) - pos} bytes, the header says {paylen}")
        return cls(spec=spec, numel=numel, payload=buf[pos:].toreadonly())


class Codec(ABC):
    """Encode a flat fp32 vector into an `Encoded` message; decode it back.

    Codecs may keep state across calls (PowerSGD's warm start, a random-k seed counter); the
    sender and the receiver each hold their own instance built from the same spec.
    """

    #: registry name, e.g. "topk"
    name: str = ""

    @property
    @abstractmethod
    def spec(self) -> str:
        """The canonical spec string that rebuilds this codec with `make_codec`."""

    @abstractmethod
    def encode(self, flat: torch.Tensor) -> Encoded: ...

    @abstractmethod
    def decode(self, enc: Encoded, out: torch.Tensor | None = None) -> torch.Tensor: ...

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Sender-side state worth checkpointing (warm starts, generator states); tensors only."""
        return {}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if state:
            raise ValueError(f"codec {self.spec!r} keeps no state, got keys {sorted(state)[:5]}")

    def roundtrip(self, flat: torch.Tensor) -> tuple[Encoded, torch.Tensor]:
        enc = self.encode(flat)
        return enc, self.decode(enc)
