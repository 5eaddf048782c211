"""The service end to end on loopback: register, pull, push, deltas, sessions, status, byte accounting."""

import json

import grpc
import pytest
import torch

from dist_llm_train.compression import make_codec
from dist_llm_train.runtime.grpc import ps_pb2 as pb
from dist_llm_train.runtime.grpc.client import MustRegister, dense_from_bytes


def test_pull_push_round_trip_steps_the_server_and_counts_bytes(live_server):
    srv = live_server()
    c = srv.client(0)
    reg = c.register()
    assert reg.numel == srv.layout.numel and reg.state == pb.RUNNING
    pulled = c.pull()
    assert pulled.kind == pb.FULL and pulled.version == 0
    params = dense_from_bytes(pulled.data, reg.numel).clone()
    assert torch.equal(params, srv.core.server.params)
    update = torch.full((reg.numel,), 0.5)
    data = make_codec("none").encode(update).to_bytes()
    reply = c.push(data, base_version=0, n_samples=4, loss=1.25)
    assert reply.accepted and reply.stepped and reply.version == 1
    assert torch.allclose(srv.core.server.params, params - 0.1 * update)
    status = json.loads(c.status())
    assert status["bytes_up"] == c.bytes_pushed == len(data)
    assert status["workers"][0]["bytes_down"] == 4 * reg.numel
    assert status["version"] == 1 and status["active"] == [0]
    c.close()


def test_stale_update_is_answered_not_refused(live_server):
    srv = live_server(max_staleness=0)
    a, b = srv.client(0), srv.client(1)
    a.register()
    b.register()
    data = make_codec("none").encode(torch.zeros(srv.layout.numel)).to_bytes()
    assert a.push(data, 0, 1).accepted
    late = b.push(data, 0, 1)
    assert not late.accepted and late.reason == "stale" and late.staleness == 1


def test_compressed_downlink_sends_deltas_that_track_the_server(live_server):
    srv = live_server(downlink="fp16")
    c = srv.client(0)
    reg = c.register()
    first = c.pull(want_delta=True)
    assert first.kind == pb.FULL
    replica = dense_from_bytes(first.data, reg.numel).clone()
    data = make_codec("none").encode(torch.randn(reg.numel)).to_bytes()
    c.push(data, 0, 1)
    second = c.pull(want_delta=True, replica_seq=first.replica_seq)
    assert second.kind == pb.DELTA and second.codec == "fp16" and len(second.data) < 4 * reg.numel
    from dist_llm_train.compression import decode_bytes

    replica += decode_bytes(bytes(second.data), expected_numel=reg.numel)
    assert torch.allclose(replica, srv.core.server.params, atol=1e-3)
    # a worker that lost track (wrong sequence number) gets a full copy again
    third = c.pull(want_delta=True, replica_seq=second.replica_seq + 5)
    assert third.kind == pb.FULL


def test_a_call_from_an_old_session_must_register_again(live_server):
    srv = live_server()
    c = srv.client(0)
    c.register()
    c.session = "0" * 16
    with pytest.raises(MustRegister, match="register again"):
        c.pull()
    c.register()
    assert c.pull().kind == pb.FULL


def test_waiting_for_workers_then_long_poll_returns_not_ready(live_server):
    srv = live_server(min_workers=2)
    c = srv.client(0)
    assert c.register().state == pb.WAITING
    got = c.pull(wait_seconds=0.2)
    assert got.kind == pb.NOT_READY and "1 of 2" in got.message
    srv.client(1).register()
    assert c.pull(wait_seconds=0.2).kind == pb.FULL


def test_a_worker_id_outside_the_run_is_refused(live_server):
    srv = live_server(num_workers=2, token_ids=range(3))
    with pytest.raises(grpc.RpcError) as info:
        srv.client(2).register()
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "outside this run's workers 0..1" in str(
        info.value.details())


def test_a_huge_finite_push_is_refused_and_reported_never_applied(live_server):
    srv = live_server()
    c = srv.client(0)
    c.register()
    c.pull()
    before = srv.core.server.params.clone()
    data = make_codec("none").encode(torch.full((srv.layout.numel,), 3e38)).to_bytes()
    reply = c.push(data, base_version=0, n_samples=1)
    assert not reply.accepted and reply.reason == "too_large" and not reply.stepped
    assert torch.equal(srv.core.server.params, before)
    status = json.loads(c.status())
    assert status["guard"] == {"too_large": 1} and status["workers"][0]["rejected"] == {"too_large": 1}
    ok = c.push(make_codec("none").encode(torch.full((srv.layout.numel,), 0.5)).to_bytes(), base_version=0,
                n_samples=1)
    assert ok.accepted and ok.stepped and torch.isfinite(srv.core.server.params).all()
