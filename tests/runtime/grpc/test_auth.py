"""Authentication on every call: no token, a wrong token, another worker's token are all refused."""

import grpc
import pytest

from dist_llm_train.runtime.grpc import ps_pb2 as pb
from dist_llm_train.runtime.grpc.client import Backoff
from dist_llm_train.runtime.grpc.tokens import new_token
from dist_llm_train.runtime.grpc.wire import METHODS, channel_options, deserializer, path, serializer


def _code(fn):
    with pytest.raises(grpc.RpcError) as info:
        fn()
    return info.value.code(), info.value.details()


def test_forged_and_missing_credentials_are_unauthenticated(live_server):
    srv = live_server()
    quick = Backoff(give_up_after=0)
    cases = {
        "wrong token": srv.client(0, token=new_token(0), backoff=quick),
        "another worker's token": srv.client(0, token=srv.tokens[1], backoff=quick),
        "empty token": srv.client(0, token="", backoff=quick),
    }
    for what, c in cases.items():
        code, details = _code(c.register)
        assert code == grpc.StatusCode.UNAUTHENTICATED, what
        assert "not valid for worker 0" in details, what
    # no metadata at all, on every method
    channel = grpc.insecure_channel(srv.target, options=channel_options())
    for name, (req_t, rep_t, req_stream, rep_stream) in METHODS.items():
        factory = {(False, False): channel.unary_unary, (False, True): channel.unary_stream,
                   (True, False): channel.stream_unary}[(req_stream, rep_stream)]
        call = factory(path(name), request_serializer=serializer(req_t), response_deserializer=deserializer(rep_t))
        arg = iter([pb.PushHeader(worker_id=0).SerializeToString()]) if req_stream else req_t()

        def invoke(call=call, arg=arg, rep_stream=rep_stream):
            out = call(arg, timeout=5)
            return list(out) if rep_stream else out

        code, details = _code(invoke)
        assert code == grpc.StatusCode.UNAUTHENTICATED and "no credential" in details, name
    assert srv.core.status()["version"] == 0
    assert srv.core.membership.active == []


def test_a_worker_cannot_speak_for_another(live_server):
    srv = live_server()
    c1 = srv.client(1)
    c1.register()
    req = pb.HeartbeatRequest(worker_id=0)
    code, details = _code(lambda: c1._calls["Heartbeat"](req, metadata=c1.metadata(), timeout=5))
    assert code == grpc.StatusCode.UNAUTHENTICATED and "may not speak for worker 0" in details
    header = pb.PushHeader(worker_id=0, base_version=0, n_samples=1, total_bytes=8)
    code, details = _code(lambda: c1.raw_push([header.SerializeToString(), b"\0" * 8]))
    assert code == grpc.StatusCode.UNAUTHENTICATED and "may not push for worker 0" in details
    assert srv.core.membership.active == [1]


def test_revoked_token_is_refused_without_restarting_the_server(live_server, tmp_path):
    import os
    import time

    from dist_llm_train.runtime.grpc.tokens import TokenStore

    srv = live_server()
    c = srv.client(2)
    c.register()
    store = TokenStore.load(tmp_path / "tokens.json")
    store.revoke(2)
    store.save()
    os.utime(tmp_path / "tokens.json", (time.time() + 5, time.time() + 5))  # a visibly new file
    time.sleep(1.1)  # the server re-reads the token file at most once a second
    code, _ = _code(lambda: c.heartbeat())
    assert code == grpc.StatusCode.UNAUTHENTICATED
