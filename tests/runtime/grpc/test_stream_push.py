"""Pushes of the elementwise codecs decoded frame by frame as they arrive: the same server step as a
push received whole, and every malformed stream refused as before, the parameters untouched."""

import struct
import threading
from contextlib import contextmanager

import grpc
import pytest
import torch

from dist_llm_train.compression import make_codec
from dist_llm_train.runtime.grpc import ps_pb2 as pb


def _push_frames(enc_bytes: bytes, frame: int, **fields) -> list[bytes]:
    h = dict(worker_id=0, base_version=0, n_samples=1, total_bytes=len(enc_bytes))
    h.update(fields)
    return [pb.PushHeader(**h).SerializeToString()] + [enc_bytes[i : i + frame]
                                                        for i in range(0, len(enc_bytes), frame)]


@contextmanager
def _held_elsewhere(hold):
    """Run the generator `hold` on another thread up to its yield (it has taken what it holds, e.g.
    a lock or leases), run the body here, then let it finish (release) and join it."""
    held, release = threading.Event(), threading.Event()

    def run():
        for _ in hold():
            held.set()
            release.wait(30)

    t = threading.Thread(target=run)
    t.start()
    assert held.wait(10), "the other thread never took what it holds"
    try:
        yield
    finally:
        release.set()
        t.join()


@pytest.mark.parametrize("spec", ["none", "fp16", "bf16"])
@pytest.mark.parametrize("frame", [1, 3, 333, 1 << 16])
def test_a_streamed_push_steps_the_server_exactly_as_a_push_received_whole(live_server, spec, frame):
    update = torch.randn(1976, generator=torch.Generator().manual_seed(frame))
    results = []
    for stream in (True, False):
        srv = live_server(num_workers=1, uplink=spec, stream=stream)
        c = srv.client(0)
        c.register()
        data = make_codec(spec).encode(update).to_bytes()
        reply = c.raw_push(_push_frames(data, frame), timeout=30)
        assert reply.accepted and reply.stepped and reply.bytes_received == len(data)
        core = srv.core
        assert (core.stream_slots.allocated, core.receive_buffers.allocated) == ((1, 0) if stream else (0, 1))
        results.append(core.server.params.clone())
    assert torch.equal(results[0], results[1])


def _bad_streams(data: bytes, head: int, item: int):
    nan = bytearray(data)
    nan[head + 5 * item : head + 6 * item] = b"\xff" * item  # all ones: a NaN in fp32, fp16 and bf16
    wrong_size = bytearray(data)
    struct.pack_into("<Q", wrong_size, head - 16, 1975)
    return {
        "truncated": (_push_frames(data[:-1], 64, total_bytes=len(data)), "truncated: received"),
        "extended": (_push_frames(data + b"\0\0", 64, total_bytes=len(data)), "longer than the declared"),
        "empty frame": (_push_frames(data, 64)[:3] + [b""] + _push_frames(data, 64)[3:], "frame is empty"),
        "NaN": (_push_frames(bytes(nan), 7), "payload contains NaN or Inf"),
        "wrong numel": (_push_frames(bytes(wrong_size), 64), "the model has 1976"),
        "wrong codec": (None, "codec"),
    }


@pytest.mark.parametrize("spec", ["none", "fp16", "bf16"])
@pytest.mark.parametrize("case", ["truncated", "extended", "empty frame", "NaN", "wrong numel", "wrong codec"])
def test_malformed_streamed_pushes_are_refused_and_change_nothing(live_server, spec, case):
    srv = live_server(num_workers=1, uplink=spec)
    c = srv.client(0)
    c.register()
    codec = make_codec(spec)
    enc = codec.encode(torch.randn(1976))
    frames, words = _bad_streams(enc.to_bytes(), enc.header_bytes, codec.item_bytes)[case]
    if frames is None:  # another elementwise codec than the run's: refused by the whole-message path
        other = make_codec("bf16" if spec != "bf16" else "fp16").encode(torch.randn(1976)).to_bytes()
        frames = _push_frames(other, 64)
    before = srv.core.server.params.clone()
    with pytest.raises(grpc.RpcError) as info:
        c.raw_push(frames, timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    assert words in info.value.details(), info.value.details()
    assert torch.equal(srv.core.server.params, before) and srv.core.coord.stats[0].submitted == 0
    assert c.push(enc.to_bytes(), base_version=0, n_samples=1).accepted  # the server goes on


def test_with_every_streaming_slot_busy_a_push_is_received_whole(live_server):
    srv = live_server(num_workers=1, uplink="fp16")
    c = srv.client(0)
    c.register()
    data = make_codec("fp16").encode(torch.randn(1976)).to_bytes()
    leases = []

    def hold_both():
        with srv.core.stream_slots.try_lease() as a, srv.core.stream_slots.try_lease() as b:
            leases.extend([a, b])
            yield

    with _held_elsewhere(hold_both):
        assert None not in leases
        assert c.push(data, base_version=0, n_samples=1).accepted
        assert srv.core.receive_buffers.allocated == 1, "no free streaming slot: received whole, never waiting"
    assert c.push(data, base_version=1, n_samples=1).accepted
    assert srv.core.stream_slots.allocated == 2  # the two held ones; the third push reused one


def test_a_push_is_admitted_while_another_push_holds_the_core_for_its_step(live_server):
    srv = live_server(num_workers=1)
    c = srv.client(0)
    c.register()
    def step():  # what a 124M-parameter server step looks like from here: the lock, held for long
        with srv.core.lock:
            yield

    with _held_elsewhere(step):
        done = []
        admit = threading.Thread(target=lambda: done.append(srv.core.admit_push(0)))
        admit.start()
        admit.join(5)
        assert done == [0], "admission must not wait for the core's lock"
