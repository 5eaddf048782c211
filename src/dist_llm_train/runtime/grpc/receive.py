"""Receiving one push after its header passed: streamed into a decode slot, or received whole.

Streamed (the elementwise codecs none / fp16 / bf16, when a streaming slot is free): each frame is
decoded into its slice of a leased fp32 slot as it arrives (compression/stream.py), so a 249 MB
fp16 push is not first copied into a 249 MB buffer and then decoded in a second pass; the
conversion runs while gRPC receives the next frames (a helper thread keeps a read outstanding,
wire.read_ahead: gRPC asks the sender for more only when the stream is read). Received whole (every other codec, a head
that does not parse or names another codec, or no free slot): the frames go into a leased byte
buffer and the message is decoded afterwards, as it always was.

Both paths refuse exactly the same streams with the same messages: the framing and length checks
are `receive_payload`'s (empty frame, longer or shorter than total_bytes), and a head that is
wrong in any way is never streamed: it takes the whole-message path, whose decoder names the
problem. The streamed path adds nothing the parameters could see before the stream is complete
and checked: the slot reaches the coordinator only after `StreamDecoder.finish` accepted it.
"""

from __future__ import annotations

import struct
import time
from contextlib import closing
from itertools import chain

import grpc

from dist_llm_train.compression.stream import StreamDecoder, feed_frames, take_head
from dist_llm_train.errors import DecodeError
from dist_llm_train.runtime.grpc import ps_pb2 as pb
from dist_llm_train.runtime.grpc.validation import (
    Rejected,
    decode_sparse_update,
    decode_update,
    receive_payload,
)
from dist_llm_train.runtime.grpc.wire import read_ahead

_ENVELOPE_HEAD = struct.Struct("<4sBB")


def envelope_spec(data: bytes | bytearray | memoryview) -> str | None:
    """The codec spec written in an envelope's header, or None when the bytes are not one."""
    if len(data) < _ENVELOPE_HEAD.size:
        return None
    _, _, n = _ENVELOPE_HEAD.unpack_from(data, 0)
    raw = bytes(data[_ENVELOPE_HEAD.size : _ENVELOPE_HEAD.size + n])
    return raw.decode("ascii", "replace") if len(raw) == n else None


def receive_push(core, frames, h, worker_id: int, uplink_codec: str) -> pb.PushReply:
    """Receive, validate and decode the payload of a push whose header `h` was checked, and hand
    it to the core. Raises Rejected for anything wrong with the payload."""
    total = h.total_bytes
    read, head = take_head(frames, total)
    if core.decode_stream is not None:
        with core.stream_slots.try_lease() as out:
            got = core.decode_stream(head, out) if out is not None else None
            if got is not None and got[0].codec.spec == uplink_codec and got[1] + got[0].expected_bytes == total:
                decoder, head_len = got
                with closing(read_ahead(frames)) as ahead:  # the next frames arrive while this one is decoded
                    seconds = _stream(decoder, head_len, chain(read, ahead), total)
                return core.push(worker_id, h, decoder.out, total, decode_seconds=seconds)
    return _receive_whole(core, chain(read, frames), h, worker_id, uplink_codec)


def _refused(message: str) -> Rejected:
    return Rejected(grpc.StatusCode.INVALID_ARGUMENT, message)


def _stream(decoder: StreamDecoder, head_len: int, frames, total: int) -> float:
    """Feed the payload to the decoder frame by frame, with receive_payload's framing checks;
    returns the seconds spent decoding (overlapped with the receive, but counted)."""
    try:
        return feed_frames(frames, total, decoder, skip=head_len, fail=_refused, refuse_empty=True)
    except DecodeError as exc:
        raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, f"malformed update: {exc}") from None


def _receive_whole(core, frames, h, worker_id: int, uplink_codec: str) -> pb.PushReply:
    with core.receive_buffers.lease(h.total_bytes) as data:
        receive_payload(frames, h.total_bytes, data)
        t0 = time.perf_counter()
        spec = envelope_spec(data)
        if spec is not None and spec != uplink_codec:
            raise Rejected(grpc.StatusCode.INVALID_ARGUMENT,
                           f"malformed update: codec {spec!r}, this run's workers send {uplink_codec!r}")
        numel = core.server.numel
        sparse = None if core.decode_sparse is None else decode_sparse_update(data, core.decode_sparse, numel)
        if sparse is not None:  # top-k: the coordinator scatters it, no dense vector is made here
            return core.push(worker_id, h, sparse, len(data), decode_seconds=time.perf_counter() - t0)
        with core.decode_slots.lease() as out:
            update = decode_update(data, core.decode, numel, out)
            return core.push(worker_id, h, update, len(data), decode_seconds=time.perf_counter() - t0)
