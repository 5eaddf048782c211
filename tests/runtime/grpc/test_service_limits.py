"""One authenticated worker misbehaving against a real server on loopback: stalled pushes, unread pulls,
floods, oversized or forged strings, and unauthenticated floods. The server must stay responsive to an
honest worker, cut what stalls, and keep its log short."""

from __future__ import annotations

import logging
import threading
import time

import grpc
import pytest
import torch

from dist_llm_train.compression import make_codec
from dist_llm_train.runtime.grpc import ps_pb2 as pb
from dist_llm_train.runtime.grpc.deadlines import LinkRates


def stalled_push(client, release: threading.Event, total_bytes: int):
    """A push that sends a valid header and then nothing until `release` is set."""
    header = pb.PushHeader(worker_id=client.worker_id, base_version=0, n_samples=1, total_bytes=total_bytes)

    def frames():
        yield header.SerializeToString()
        release.wait(60)

    return client._calls["Push"].future(frames(), metadata=client.metadata(), timeout=60)


def honest_round(srv, client) -> float:
    """Seconds for one heartbeat + pull + push of an honest worker."""
    t0 = time.monotonic()
    client.heartbeat("compute")
    pulled = client.pull(wait_seconds=0)
    data = make_codec("none").encode(torch.zeros(srv.layout.numel)).to_bytes()
    reply = client.push(data, pulled.version, 1)
    assert reply.accepted
    return time.monotonic() - t0


def test_stalled_pushes_cannot_hold_the_server(live_server):
    srv = live_server(num_workers=2, max_threads=10, rates=LinkRates(grace=1.5))
    honest, attacker = srv.client(0), srv.client(1)
    honest.register()
    attacker.register()
    release = threading.Event()
    try:
        calls = [stalled_push(attacker, release, 4 * srv.layout.numel + 64) for _ in range(20)]
        time.sleep(0.3)
        refused = [c for c in calls if c.done() and c.code() == grpc.StatusCode.RESOURCE_EXHAUSTED]
        assert len(refused) >= 18, [c.code() for c in calls if c.done()]
        assert "in flight" in refused[0].details()
        # ten handler threads, twenty stalled calls: the honest worker still gets through at once
        for _ in range(3):
            assert honest_round(srv, honest) < 2.0
        for c in calls:  # the two admitted ones are cut at their deadline (grace 1.5 s, small message)
            c.exception(timeout=10)
        assert {c.code() for c in calls} <= {grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.CANCELLED}
        deadline = time.monotonic() + 5
        while srv.service.limiter.in_flight(1) != (0, 0) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert srv.service.limiter.in_flight(1) == (0, 0), "the cut pushes still hold their slots"
        assert srv.core.refused.get("DEADLINE_EXCEEDED", 0) >= 1
    finally:
        release.set()
    assert honest_round(srv, honest) < 2.0


def test_unread_pulls_are_cut_and_do_not_hold_honest_calls(live_server):
    numel = 4 << 20  # 16 MB full pulls: far more than gRPC's flow-control windows
    srv = live_server(num_workers=2, max_threads=8, numel=numel, chunk_bytes=1 << 20,
                      rates=LinkRates(grace=1.0, initial_rate=64e6))  # deadline 1 s + 16 MB at 16 MB/s
    honest, attacker = srv.client(0), srv.client(1)
    honest.register()
    attacker.register()
    req = pb.PullRequest(worker_id=1, wait_seconds=0)
    streams = [attacker._calls["Pull"](req, metadata=attacker.metadata(), timeout=60) for _ in range(6)]
    codes = []
    for s in streams:
        try:
            next(s)  # read the header and stop reading
        except grpc.RpcError as err:
            codes.append(err.code())
    assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) == 4, codes
    t0 = time.monotonic()
    honest.heartbeat("compute")
    pulled = honest.pull(wait_seconds=0)
    assert pulled.kind == pb.FULL and time.monotonic() - t0 < 5.0
    time.sleep(3.0)  # past the deadline of the two admitted ones
    for s in streams:
        try:
            for _ in s:
                pass
            codes.append(grpc.StatusCode.OK)
        except grpc.RpcError as err:
            codes.append(err.code())
    assert codes.count(grpc.StatusCode.CANCELLED) == 2, codes
    assert srv.service.limiter.in_flight(1) == (0, 0)
    assert honest.pull(wait_seconds=0).kind == pb.FULL


def test_floods_of_every_method_are_limited_per_worker(live_server):
    srv = live_server(num_workers=2, push_rate=50.0)
    honest, attacker = srv.client(0), srv.client(1)
    honest.register()
    attacker.register()
    codes = {}
    md = attacker.metadata
    calls = {
        "Heartbeat": lambda: attacker._calls["Heartbeat"](pb.HeartbeatRequest(worker_id=1), metadata=md()),
        "Status": lambda: attacker._calls["Status"](pb.StatusRequest(), metadata=md()),
        "Register": lambda: attacker._calls["Register"](pb.RegisterRequest(worker_id=1), metadata=md()),
        "Pull": lambda: list(attacker._calls["Pull"](pb.PullRequest(worker_id=1, wait_seconds=0), metadata=md())),
    }
    for name, call in calls.items():
        got = []
        for _ in range(80):
            try:
                call()
                got.append("OK")
            except grpc.RpcError as err:
                got.append(err.code().name)
                if err.code() == grpc.StatusCode.ABORTED:  # re-registered: its session changed
                    attacker.session = srv.core.session
        codes[name] = got
        assert "RESOURCE_EXHAUSTED" in got, (name, got[:20])
        assert honest_round(srv, honest) < 2.0
    assert srv.core.refused["RESOURCE_EXHAUSTED"] >= 4


def test_register_strings_are_bounded_and_never_forge_log_lines(live_server, caplog):
    srv = live_server(num_workers=1)
    c = srv.client(0)
    md = c.metadata()
    cases = {"hostname": ("h" * (16 << 20), "253"), "client_version": ("v" * (16 << 20), "64")}
    with caplog.at_level(logging.INFO):
        for field, (value, limit) in cases.items():
            with pytest.raises(grpc.RpcError) as info:
                c._calls["Register"](pb.RegisterRequest(worker_id=0, **{field: value}), metadata=md, timeout=30)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and f"at most {limit}" in info.value.details()
        with pytest.raises(grpc.RpcError) as info:
            c._calls["Register"](pb.RegisterRequest(worker_id=0, hostname="ok\n2026-12-04 INFO forged"), metadata=md)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "control characters" in info.value.details()
        with pytest.raises(grpc.RpcError) as info:
            c.register()
            c._calls["Heartbeat"](pb.HeartbeatRequest(worker_id=0, phase="p" * 1000), metadata=c.metadata())
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert 0 not in srv.core.membership.dropped
    assert max(len(r.getMessage()) for r in caplog.records) < 1000
    assert not any("forged" in r.getMessage() and "\n" in r.getMessage() for r in caplog.records)


def test_an_unauthenticated_flood_is_throttled_and_logged_in_aggregate(live_server, caplog):
    srv = live_server(num_workers=1)
    honest = srv.client(0)
    honest.register()
    bad = srv.client(0, token="dlt1.0.not-the-token")
    codes = []
    with caplog.at_level(logging.WARNING, logger="dist_llm_train.grpc.refusals"):
        for _ in range(300):
            try:
                bad._calls["Heartbeat"](pb.HeartbeatRequest(worker_id=0), metadata=bad.metadata())
            except grpc.RpcError as err:
                codes.append(err.code())
    assert codes[0] == grpc.StatusCode.UNAUTHENTICATED and codes[-1] == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert len(caplog.records) <= 3, [r.getMessage() for r in caplog.records]
    assert honest.heartbeat("compute").state == pb.RUNNING  # a valid token from the same address still passes
    line = srv.service.refusals.flush(force=True)
    assert "more calls" in line and "ipv4:127.0.0.1" in line
