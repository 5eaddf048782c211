"""Check every pushed payload before it can touch the parameters.

Order matters: the cheap checks (header fields, declared size, rate) run before any byte is
buffered, the envelope and codec checks (header, version, sizes against the layout, index ranges)
run in the codec's decoder, and the finiteness check runs on the decoded vector. Each failure is a
`Rejected` carrying the gRPC status and a message naming what was wrong, so the worker (or its
operator) can fix it; the server itself never raises past the handler.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc
import torch
from google.protobuf.message import DecodeError as DecodeProtoError

from dist_llm_train.errors import DecodeError
from dist_llm_train.sync.coordinator import all_finite
from dist_llm_train.sync.sparse import SparseUpdate

#: no honest update carries more samples than this in one push
MAX_SAMPLES_PER_PUSH = 1 << 24
#: an envelope header (magic, version, spec, sizes) is at most this many bytes
ENVELOPE_OVERHEAD = 4 + 1 + 1 + 255 + 16


class Rejected(Exception):
    """A push refused before it reached the coordinator; `code` is the gRPC status to answer with."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def max_push_bytes(numel: int) -> int:
    """The largest envelope the server buffers: two 4-byte words per element (a value and an index)
    covers every codec, and bounds the memory one call can make the server allocate."""
    return 8 * numel + ENVELOPE_OVERHEAD


@dataclass
class PushLimits:
    numel: int
    max_bytes: int
    max_samples: int = MAX_SAMPLES_PER_PUSH


def check_header(h, authenticated_id: int, server_version: int, limits: PushLimits) -> None:
    """Header fields of a push, before any payload is buffered."""
    bad = grpc.StatusCode.INVALID_ARGUMENT
    if h.worker_id != authenticated_id:
        raise Rejected(grpc.StatusCode.UNAUTHENTICATED,
                       f"worker {authenticated_id} may not push for worker {h.worker_id}")
    if h.base_version < 0 or h.base_version > server_version:
        raise Rejected(bad, f"base_version {h.base_version} is outside 0..{server_version} (the server's version)")
    if not 1 <= h.n_samples <= limits.max_samples:
        raise Rejected(bad, f"n_samples {h.n_samples} is outside 1..{limits.max_samples}")
    if not 0 < h.total_bytes <= limits.max_bytes:
        raise Rejected(bad, f"total_bytes {h.total_bytes} is outside 1..{limits.max_bytes} for a model of "
                            f"{limits.numel} parameters")
    if not math.isfinite(h.loss) or not math.isfinite(h.compute_seconds):
        raise Rejected(bad, "loss and compute_seconds must be finite numbers")


def parse_header(frame, msg_type, what: str):
    """The first frame of a push or pull: a serialized header message, refused if it is not one."""
    if not isinstance(frame, bytes):
        raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, f"a {what} must start with a header frame")
    try:
        return msg_type.FromString(frame)
    except DecodeProtoError as exc:
        raise Rejected(grpc.StatusCode.INVALID_ARGUMENT,
                       f"the first frame of a {what} is not a {msg_type.__name__}: {exc}") from None


def receive_payload(frames, total_bytes: int, into: memoryview | bytearray | None = None) -> memoryview:
    """Write the payload frames into `into` (exactly total_bytes long; a fresh buffer when None),
    refusing a stream longer or shorter than declared, and empty frames (they carry nothing but
    cost a handler wake-up each)."""
    buf = memoryview(bytearray(total_bytes) if into is None else into)
    if len(buf) != total_bytes:
        raise ValueError(f"receive buffer has {len(buf)} bytes, the payload {total_bytes}")
    pos = 0
    for frame in frames:
        n = len(frame)
        if n == 0:
            raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, "a payload frame is empty")
        if pos + n > total_bytes:
            raise Rejected(grpc.StatusCode.INVALID_ARGUMENT,
                           f"payload is longer than the declared total_bytes {total_bytes}")
        buf[pos : pos + n] = frame
        pos += n
    if pos != total_bytes:
        raise Rejected(grpc.StatusCode.INVALID_ARGUMENT,
                       f"payload truncated: received {pos} bytes, the header declared {total_bytes}")
    return buf


def decode_update(data, decode: Callable[..., torch.Tensor], numel: int,
                  out: torch.Tensor | None = None) -> torch.Tensor:
    """Decode with the codec's own checks (envelope, spec, sizes, index ranges), into `out` when
    given, then check the values."""
    try:
        update = decode(data) if out is None else decode(data, out)
    except DecodeError as exc:
        raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, f"malformed update: {exc}") from None
    except (ValueError, KeyError, OverflowError, RuntimeError, IndexError) as exc:
        # a codec that fails with a generic error is still a refused payload, never a dead server
        raise Rejected(grpc.StatusCode.INVALID_ARGUMENT,
                       f"malformed update: {type(exc).__name__}: {exc}") from None
    if update.dim() != 1 or update.numel() != numel:
        raise Rejected(grpc.StatusCode.INVALID_ARGUMENT,
                       f"decoded update has shape {tuple(update.shape)}, the model needs ({numel},)")
    if update.dtype != torch.float32:
        update = update.to(torch.float32)
    if not all_finite(update):  # one allocation-free pass; the exact count only for a refusal
        n_bad = int((~torch.isfinite(update)).sum())
        raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, f"update has {n_bad} non-finite values (NaN or inf)")
    return update


def decode_sparse_update(data, decode_sparse: Callable, numel: int) -> SparseUpdate | None:
    """A top-k style update as a checked SparseUpdate (indices validated by the index decoder,
    values checked finite here too), or None when the codec has no sparse form."""
    try:
        pair = decode_sparse(data)
    except DecodeError as exc:
        raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, f"malformed update: {exc}") from None
    except (ValueError, KeyError, OverflowError, RuntimeError, IndexError) as exc:
        raise Rejected(grpc.StatusCode.INVALID_ARGUMENT,
                       f"malformed update: {type(exc).__name__}: {exc}") from None
    if pair is None:
        return None
    idx, values = pair
    if idx.numel() and not (int(idx[0]) >= 0 and int(idx[-1]) < numel):  # the decoder's guarantee, re-checked
        raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, f"update indices fall outside 0..{numel - 1}")
    values = values.to(torch.float32)
    if not all_finite(values):
        n_bad = int((~torch.isfinite(values)).sum())
        raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, f"update has {n_bad} non-finite values (NaN or inf)")
    return SparseUpdate(idx, values, numel)


class RateLimiter:
    """A token bucket per worker: `rate` pushes per second on average, bursts of `burst`."""

    def __init__(self, rate: float, burst: float | None = None, clock=time.monotonic):
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, rate))
        self.clock = clock
        self._buckets: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, worker_id: int) -> bool:
        if self.rate <= 0:
            return True
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(worker_id, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            ok = tokens >= 1.0
            self._buckets[worker_id] = (tokens - 1.0 if ok else tokens, now)
            return ok

    def check(self, worker_id: int) -> None:
        if not self.allow(worker_id):
            raise Rejected(grpc.StatusCode.RESOURCE_EXHAUSTED,
                           f"worker {worker_id} pushes faster than {self.rate:g} updates/s; slow down")
