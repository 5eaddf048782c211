"""A worker's Replica: pulls applied frame by frame stay bit-for-bit with the server's mirror, and a
pull that breaks off or carries a bad value leaves the replica exactly as it was."""

import pytest
import torch

from dist_llm_train.compression import decode_bytes, make_codec
from dist_llm_train.errors import DecodeError
from dist_llm_train.runtime.grpc import ps_pb2 as pb
from dist_llm_train.runtime.grpc.replica import Replica, receive_delta, receive_full


def _whole(frames, total):
    data = b"".join(frames)
    assert len(data) == total
    return memoryview(data)


def _frames(data: bytes, n: int) -> list[bytes]:
    return [data[i : i + n] for i in range(0, len(data), n)]


@pytest.mark.parametrize("downlink", ["fp16", "bf16", "none", "topk:0.1", "qsgd:15"])
def test_pulled_deltas_keep_the_replica_equal_to_the_servers_mirror(live_server, downlink):
    srv = live_server(num_workers=1, downlink=downlink, chunk_bytes=333)  # frames split entries
    c = srv.client(0)
    c.register()
    numel = srv.layout.numel
    rep = Replica(numel, srv.layout)
    first = c.pull(want_delta=True, into=rep)
    assert first.kind == pb.FULL and first.applied and first.data is None and first.nbytes == 4 * numel
    assert torch.equal(rep.params, srv.core.server.params)
    seq = first.replica_seq
    data = make_codec("none").encode(torch.randn(numel)).to_bytes()
    for v in range(3):
        c.push(data, base_version=v, n_samples=1)
        got = c.pull(want_delta=True, replica_seq=seq, into=rep)
        assert got.kind == pb.DELTA and got.applied
        seq = got.replica_seq
        assert torch.equal(rep.params, srv.core.downlink.replicas[0]), f"round {v}"
    kept = {id(rep.params), id(rep.spare)}
    c.pull(want_delta=False, into=rep)
    assert {id(rep.params), id(rep.spare)} == kept, "the replica's two buffers are reused"


def _replica_with(values: torch.Tensor) -> Replica:
    rep = Replica(values.numel())
    receive_full(iter([values.numpy().tobytes()]), 4 * values.numel(), rep)
    return rep


@pytest.mark.parametrize("spec", ["fp16", "none"])
@pytest.mark.parametrize("case", ["truncated", "extended", "NaN"])
def test_a_broken_or_bad_delta_stream_leaves_the_replica_untouched(spec, case):
    numel = 5000
    rep = _replica_with(torch.randn(numel))
    before, params = rep.params.clone(), rep.params
    enc = make_codec(spec).encode(torch.randn(numel) * 1e-2)
    data = bytearray(enc.to_bytes())
    total = len(data)
    if case == "truncated":
        data = data[:-3]
    elif case == "extended":
        data += b"\0\0"
    else:
        item = make_codec(spec).item_bytes
        data[-item:] = b"\xff" * item  # the last entry: a NaN, after every other frame was applied
    with pytest.raises((ValueError, DecodeError)):
        receive_delta(iter(_frames(bytes(data), 1000)), total, rep, _whole)
    assert rep.params is params and torch.equal(rep.params, before)
    # the next good delta still applies to the untouched replica
    good = enc.to_bytes()
    receive_delta(iter(_frames(good, 1000)), len(good), rep, _whole)
    assert torch.equal(rep.params, before + decode_bytes(good, expected_numel=numel))


def test_a_bad_sparse_delta_is_refused_before_anything_is_added():
    numel = 5000
    rep = _replica_with(torch.randn(numel))
    before = rep.params.clone()
    data = bytearray(make_codec("topk:0.1").encode(torch.randn(numel)).to_bytes())
    data[-4:] = b"\x00\x00\xc0\x7f"  # the last value: NaN
    with pytest.raises(DecodeError, match="NaN"):
        receive_delta(iter(_frames(bytes(data), 700)), len(data), rep, _whole)
    assert torch.equal(rep.params, before)


def test_a_broken_full_pull_keeps_the_old_parameters():
    numel = 1000
    old = torch.randn(numel)
    rep = _replica_with(old)
    new = torch.randn(numel).numpy().tobytes()
    with pytest.raises(ValueError, match="truncated"):
        receive_full(iter(_frames(new[:-1], 333)), 4 * numel, rep)
    assert torch.equal(rep.params, old)
    with pytest.raises(ValueError, match="a model of 1000 parameters needs 4000"):
        receive_full(iter([new]), 4 * numel + 4, rep)
    assert torch.equal(rep.params, old)


def test_a_delta_needs_a_full_copy_first_and_forget_asks_for_one():
    rep = Replica(10)
    data = make_codec("fp16").encode(torch.randn(10)).to_bytes()
    with pytest.raises(ValueError, match="earlier full pull"):
        receive_delta(iter([data]), len(data), rep, _whole)
    rep = _replica_with(torch.zeros(10))
    rep.forget()
    assert rep.params is None
