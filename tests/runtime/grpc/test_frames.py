"""Push and Pull as raw byte frames: round trips through many small frames, reused buffers, and
streams whose length disagrees with their header refused before anything touches the parameters."""

import copy

import grpc
import pytest
import torch

from dist_llm_train.compression import decode_bytes, make_codec
from dist_llm_train.runtime.grpc import ps_pb2 as pb
from dist_llm_train.runtime.grpc.client import apply_delta, dense_from_bytes


def _refused(fn) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        fn()
    return info.value.code(), info.value.details()


def test_a_dense_push_in_many_frames_steps_the_server_exactly(live_server):
    srv = live_server(num_workers=1, chunk_bytes=1024)
    c = srv.client(0)
    c.register()
    numel = srv.layout.numel
    expected = srv.core.server.params.clone()
    copy.deepcopy(srv.core.server.optimizer).step(expected, update := torch.randn(numel))  # the same server step
    enc = make_codec("none").encode(update)
    assert enc.wire_bytes > 5 * 333  # the push below is split into many frames
    reply = c.push([enc.head(), enc.payload], base_version=0, n_samples=2, chunk_bytes=333)
    assert reply.accepted and reply.stepped and reply.version == 1
    assert reply.bytes_received == enc.wire_bytes == c.bytes_pushed
    assert reply.decode_seconds > 0 and reply.step_seconds > 0
    assert torch.equal(srv.core.server.params, expected)  # the mean of one update is that update
    got = c.pull()  # server frames of 1024 bytes
    assert got.kind == pb.FULL and got.version == 1
    assert torch.equal(dense_from_bytes(got.data, numel), srv.core.server.params)


@pytest.mark.parametrize("stream", [True, False])
def test_steady_pushes_and_pulls_reuse_their_buffers(live_server, stream):
    srv = live_server(num_workers=1, stream=stream)
    c = srv.client(0)
    c.register()
    data = make_codec("none").encode(torch.randn(srv.layout.numel) * 1e-3).to_bytes()
    for v in range(4):
        assert c.push(data, base_version=v, n_samples=1).accepted
    core = srv.core
    if stream:  # decoded frame by frame into one reused slot: no receive buffer at all
        assert core.stream_slots.allocated == 1
        assert core.receive_buffers.allocated == 0 and core.decode_slots.allocated == 0
    else:
        assert core.receive_buffers.allocated == 1 and core.decode_slots.allocated == 1
    c.pull()
    first = c._recv
    for _ in range(3):
        c.pull()
    assert c._recv is first, "the client reallocated its receive buffer"
    assert core.snapshots.fills == 1, "pulls of one version must share one snapshot"


@pytest.mark.parametrize("frames, words", [
    (lambda h, d: [h, d + b"\0"], "longer than the declared total_bytes"),
    (lambda h, d: [h, d[:-1]], "truncated: received"),
    (lambda h, d: [h, d[:8], b"", d[8:]], "frame is empty"),
    (lambda h, d: [d], "is not a PushHeader"),
    (lambda h, d: [], "must start with a header frame"),
])
def test_streams_that_disagree_with_their_header_are_refused(live_server, frames, words):
    srv = live_server(num_workers=1)
    c = srv.client(0)
    c.register()
    data = make_codec("none").encode(torch.ones(srv.layout.numel)).to_bytes()
    header = pb.PushHeader(worker_id=0, base_version=0, n_samples=1, total_bytes=len(data)).SerializeToString()
    before = srv.core.server.params.clone()
    code, details = _refused(lambda: c.raw_push(frames(header, data), timeout=10))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and words in details, details
    assert torch.equal(srv.core.server.params, before) and srv.core.coord.stats[0].submitted == 0
    assert c.push(data, base_version=0, n_samples=1).accepted  # the server goes on


def test_an_oversize_header_is_refused_before_a_buffer_is_leased(live_server):
    srv = live_server(num_workers=1)
    c = srv.client(0)
    c.register()
    huge = srv.core.limits.max_bytes + 1
    header = pb.PushHeader(worker_id=0, base_version=0, n_samples=1, total_bytes=huge).SerializeToString()
    code, details = _refused(lambda: c.raw_push([header, b"\0" * 16], timeout=10))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and f"total_bytes {huge}" in details
    assert srv.core.receive_buffers.allocated == 0


def test_a_topk_push_takes_the_sparse_path_and_steps_like_the_dense_decode(live_server):
    srv = live_server(num_workers=1, uplink="topk:0.1")
    c = srv.client(0)
    c.register()
    numel = srv.layout.numel
    codec = make_codec("topk:0.1", layout=srv.layout)
    enc = codec.encode(torch.randn(numel))
    dense = decode_bytes(enc.to_bytes(), expected_numel=numel)
    expected = srv.core.server.params.clone()
    copy.deepcopy(srv.core.server.optimizer).step(expected, dense)
    reply = c.push([enc.head(), enc.payload], base_version=0, n_samples=1)
    assert reply.accepted and reply.stepped
    assert torch.equal(srv.core.server.params, expected)
    assert srv.core.decode_slots.allocated == 0, "a sparse update needs no dense decode slot"
    # a top-k message whose values are not finite is refused on the sparse path too
    bad = bytearray(enc.to_bytes())
    bad[-4:] = b"\x00\x00\xc0\x7f"  # the last fp32 value becomes NaN
    code, details = _refused(lambda: c.push(bytes(bad), base_version=1, n_samples=1))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "NaN" in details
    assert srv.core.server.version == 1


def test_compressed_delta_pulls_decode_into_the_worker_replica(live_server):
    srv = live_server(num_workers=1, downlink="topk:0.1")
    c = srv.client(0)
    c.register()
    numel = srv.layout.numel
    first = c.pull(want_delta=True)
    replica = dense_from_bytes(first.data, numel).clone()
    seq, out = first.replica_seq, torch.empty(numel)
    data = make_codec("none").encode(torch.randn(numel)).to_bytes()
    for v in range(3):
        c.push(data, base_version=v, n_samples=1)
        got = c.pull(want_delta=True, replica_seq=seq)
        assert got.kind == pb.DELTA and got.server_seconds > 0
        apply_delta(replica, got.data, srv.layout, out)  # top-k: scattered into the replica
        seq = got.replica_seq
    assert torch.equal(replica, srv.core.downlink.replicas[0])
