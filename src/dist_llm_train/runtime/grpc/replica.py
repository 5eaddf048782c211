"""A worker's replica of the parameters, and pulls applied to it without ever half-updating it.

A dense delta pull of a 124M-parameter model is 249 MB of fp16. Received whole, it is copied into
a receive buffer, decoded into a scratch vector in a second pass (and checked in a third), then
added to the replica in a fourth. Here every arriving frame is decoded and checked straight away
and written as replica + delta into a *spare* vector, while gRPC receives the next frames (read
ahead by a helper thread, wire.read_ahead); a full pull is streamed into the spare the same way.
The spare becomes the replica (the two swap) only once the stream is complete and every check
passed, so a pull that breaks off or carries a bad value leaves the replica exactly as it was:
nothing is added before the last frame is in, and nothing needs undoing (an fp32 subtraction
would not restore the old values bit for bit). The server's mirror has moved on by then, so the
retry of that pull is answered with a full copy.

Deltas of other codecs (top-k, QSGD, sign, PowerSGD) are received whole and decoded first, with
all their checks, then added in place (a top-k delta is scattered): also all or nothing. Memory is
what the worker held before: the replica and one vector of the same size (then the decode scratch).
"""

from __future__ import annotations

import time
from contextlib import closing
from itertools import chain

import torch

from dist_llm_train.compression import decode_bytes
from dist_llm_train.compression.identity import IdentityCodec
from dist_llm_train.compression.registry import decode_sparse_bytes, stream_decoder
from dist_llm_train.compression.stream import StreamDecoder, feed_frames, take_head
from dist_llm_train.runtime.grpc.wire import read_ahead


class Replica:
    """The parameters a worker holds (`params`, None until its first full pull) and a spare vector:
    two buffers that trade places on every committed pull, allocated once."""

    def __init__(self, numel: int, layout=None):
        self.numel = numel
        self.layout = layout
        self._bufs: list[torch.Tensor | None] = [None, None]
        self._cur: int | None = None  # which buffer holds the parameters

    @property
    def params(self) -> torch.Tensor | None:
        return None if self._cur is None else self._bufs[self._cur]

    @property
    def spare(self) -> torch.Tensor:
        i = 1 if self._cur == 0 else 0
        if self._bufs[i] is None:
            self._bufs[i] = torch.empty(self.numel, dtype=torch.float32)
        return self._bufs[i]

    def commit(self) -> None:
        """The spare holds the new parameters: it becomes the replica, the old one the spare."""
        self._cur = 1 if self._cur == 0 else 0

    def forget(self) -> None:
        """The server forgot our mirror (e.g. we registered again): the next pull must be full."""
        self._cur = None


def _pull_error(message: str) -> ValueError:
    return ValueError(f"pull: {message}")


def receive_full(frames, total: int, replica: Replica) -> float:
    """A full pull (raw little-endian fp32, no envelope) streamed into the spare, then swapped in;
    returns the seconds spent decoding."""
    if total != 4 * replica.numel:
        raise ValueError(f"full pull has {total} bytes, a model of {replica.numel} parameters needs "
                         f"{4 * replica.numel}")
    with closing(read_ahead(frames)) as ahead:  # the next frames arrive while this one is copied
        seconds = feed_frames(ahead, total, StreamDecoder(IdentityCodec(), replica.numel, replica.spare,
                                                          check_finite=False), fail=_pull_error)
    replica.commit()
    return seconds


def receive_delta(frames, total: int, replica: Replica, receive_whole) -> float:
    """A delta pull applied to the replica: streamed as replica + delta into the spare for the
    elementwise codecs, else `receive_whole(frames, total)` -> bytes, decoded and added in place.
    Returns the seconds spent decoding and applying."""
    if replica.params is None:
        raise ValueError("pull: a delta needs a replica from an earlier full pull")
    read, head = take_head(frames, total)
    got = stream_decoder(head, replica.numel, replica.spare, layout=replica.layout, base=replica.params)
    if got is not None and got[1] + got[0].expected_bytes == total:
        decoder, head_len = got
        with closing(read_ahead(frames)) as ahead:  # the next frames arrive while this one is decoded
            seconds = feed_frames(chain(read, ahead), total, decoder, skip=head_len, fail=_pull_error)
        replica.commit()
        return seconds
    data = receive_whole(chain(read, frames), total)
    t0 = time.perf_counter()
    apply_delta(replica.params, data, replica.layout, scratch=replica.spare)
    return time.perf_counter() - t0


def apply_delta(replica: torch.Tensor, data, layout=None, scratch: torch.Tensor | None = None) -> torch.Tensor:
    """Add a pulled compressed delta to the replica, with the codec's checks. A top-k delta is
    scattered into the replica (no dense vector: for top-1% of a 124M model that is 3 passes over
    0.5 GB saved); any other codec is decoded into `scratch` (reused by the caller) and added."""
    sparse = decode_sparse_bytes(data, expected_numel=replica.numel(), layout=layout)
    if sparse is not None:
        idx, values = sparse
        return replica.index_add_(0, idx, values)
    return replica.add_(decode_bytes(data, expected_numel=replica.numel(), layout=layout, out=scratch))


def dense_from_bytes(data: bytearray | memoryview, numel: int) -> torch.Tensor:
    """Raw little-endian fp32 parameters from a full pull (a zero-copy view of `data`)."""
    if memoryview(data).nbytes != 4 * numel:
        raise ValueError(f"full pull has {memoryview(data).nbytes} bytes, a model of {numel} parameters needs "
                         f"{4 * numel}")
    return torch.frombuffer(data, dtype=torch.float32)
