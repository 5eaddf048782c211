"""Fuzzing Register's and Heartbeat's fields (and their raw bytes): every call is answered OK or
refused with a status naming the problem, nothing reaches the log unbounded, the parameters stay as
they were, and an honest worker is served afterwards."""

from __future__ import annotations

import logging

import grpc
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dist_llm_train.runtime.grpc import ps_pb2 as pb
from dist_llm_train.runtime.grpc.call_limits import DEFAULT_LIMITS, CallLimiter, MethodLimit
from dist_llm_train.runtime.grpc.wire import path

REFUSALS = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.RESOURCE_EXHAUSTED}
#: protobuf cannot parse the bytes: gRPC answers before any handler runs
UNPARSED = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}

TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=31), min_size=1, max_size=8),
    st.builds(lambda c, n: c * n, st.sampled_from(["a", "\n", "é", "\u202e"]), st.sampled_from([250, 254, 70_000])),
)
INTS = st.one_of(st.integers(-(1 << 31), (1 << 31) - 1), st.sampled_from([0, 1, -1, 2, 7]))


@st.composite
def request(draw):
    method = draw(st.sampled_from(["Register", "Heartbeat"]))
    if draw(st.integers(0, 9)) == 0:  # not a protobuf message of that type at all
        return method, draw(st.binary(max_size=300)), True
    if method == "Register":
        msg = pb.RegisterRequest(worker_id=draw(INTS), client_version=draw(TEXT),
                                 wire_version=draw(st.integers(0, (1 << 32) - 1)), hostname=draw(TEXT))
    else:
        msg = pb.HeartbeatRequest(worker_id=draw(INTS), phase=draw(TEXT),
                                  replica_version=draw(st.integers(-(1 << 63), (1 << 63) - 1)))
    return method, msg.SerializeToString(), False


def test_register_and_heartbeat_fields_are_fuzzed_without_harm(live_server, caplog):
    # no rate limits here: every call must reach the field checks, not the limiter
    limiter = CallLimiter({name: MethodLimit(lim.concurrent, 0, 0) for name, lim in DEFAULT_LIMITS.items()})
    srv = live_server(num_workers=2, limiter=limiter)
    honest = srv.client(0)
    honest.register()
    before = srv.core.server.params.clone()
    raw = {m: honest.channel.unary_unary(path(m)) for m in ("Register", "Heartbeat")}  # bytes in, bytes out
    seen: dict[str, int] = {}

    @settings(max_examples=400, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(request())
    def one(case):
        method, data, garbage = case
        try:
            raw[method](data, metadata=honest.metadata(), timeout=10)
            seen["OK"] = seen.get("OK", 0) + 1
        except grpc.RpcError as err:
            allowed = REFUSALS | UNPARSED if garbage else REFUSALS | {grpc.StatusCode.ABORTED}
            assert err.code() in allowed, (method, err.code(), err.details())
            seen[err.code().name] = seen.get(err.code().name, 0) + 1
        if method == "Register":
            honest.session = srv.core.session

    with caplog.at_level(logging.INFO):
        one()
    assert {"OK", "INVALID_ARGUMENT", "UNAUTHENTICATED"} <= set(seen), seen
    assert torch.equal(srv.core.server.params, before) and srv.core.server.version == 0
    assert max(len(r.getMessage()) for r in caplog.records) < 1000
    for member in srv.core.membership.members.values():
        assert len(member.host) <= 253 and member.host.isprintable() and len(member.phase) <= 32
    honest.register()
    assert honest.heartbeat("compute").state == pb.RUNNING
    assert honest.pull(wait_seconds=0).kind == pb.FULL
