"""Fuzzing the push path: a thousand malformed updates, each refused with a status naming the problem.

One server takes every call; afterwards it still runs, its parameters are bit-for-bit unchanged,
and an honest update is accepted.
"""

import struct

import grpc
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dist_llm_train.compression import make_codec
from dist_llm_train.runtime.grpc import ps_pb2 as pb

NAN = struct.pack("<f", float("nan"))
INF = struct.pack("<f", float("inf"))


def _optional_sparse(layout):
    """A sparse codec's envelope (index payloads) when the build has one, for out-of-range indices."""
    try:
        codec = make_codec("topk:0.05", layout=layout)
    except (ValueError, KeyError):
        return None
    return codec.encode(torch.randn(layout.numel))


@st.composite
def bad_push(draw, good: bytes, numel: int, header_len: int, sparse, item: int = 4, wrong: str = "fp16"):
    """(PushHeader fields, payload bytes, what must be wrong) for one malformed push of the run's
    codec (`item` bytes per entry); `wrong` is an elementwise codec the run does not use."""
    kind = draw(st.sampled_from(["truncate", "extend", "header_flip", "nan", "wrong_numel", "random",
                                 "huge_samples", "bad_version", "length_lie", "wrong_codec", "index"]))
    fields = dict(worker_id=0, base_version=0, n_samples=4)
    data = bytearray(good)
    if kind == "truncate":
        data = data[: draw(st.integers(0, len(good) - 1))]
    elif kind == "extend":
        data += draw(st.binary(min_size=1, max_size=64))
    elif kind == "header_flip":
        pos = draw(st.integers(0, header_len - 1))
        data[pos] ^= draw(st.integers(1, 255))
    elif kind == "nan":
        pos = header_len + item * draw(st.integers(0, numel - 1))
        data[pos : pos + item] = draw(st.sampled_from([NAN, INF]))[-item:]  # fp16: 0x7fc0 / 0x7f80, NaNs
    elif kind == "wrong_numel":
        other = draw(st.sampled_from([0, 1, numel - 1, numel + 1, 2 * numel]))
        data = bytearray(make_codec("none").encode(torch.zeros(other)).to_bytes())
    elif kind == "random":
        data = bytearray(draw(st.binary(min_size=0, max_size=256)))
    elif kind == "huge_samples":
        fields["n_samples"] = draw(st.sampled_from([0, -5, 1 << 40, (1 << 63) - 1]))
    elif kind == "bad_version":
        fields["base_version"] = draw(st.sampled_from([-1, 10**6]))
    elif kind == "length_lie":
        fields["total_bytes"] = len(data) + draw(st.sampled_from([-3, 7, 1 << 40]))
    elif kind == "wrong_codec":
        data = bytearray(make_codec(wrong).encode(torch.zeros(numel)).to_bytes())
    elif kind == "index":
        if sparse is None:
            data = data[:header_len]  # no sparse codec in this build: an empty payload instead
        else:
            raw = bytearray(sparse.to_bytes())
            head = sparse.header_bytes
            pos = head + draw(st.integers(0, max(0, len(sparse.payload) - 4)))
            raw[pos : pos + 4] = struct.pack("<I", draw(st.integers(numel, (1 << 32) - 1)))
            data = raw
    if len(data) == 0 and kind not in ("huge_samples", "bad_version", "length_lie"):
        data = bytearray(b"\0")
    fields.setdefault("total_bytes", len(data))
    return fields, bytes(data), kind


def _fuzz_target(live_server, uplink: str):
    """A registered worker of a one-worker server whose workers send `uplink`, a valid push for it,
    and the parameters before any push: what every fuzzed push is checked against."""
    srv = live_server(num_workers=1, max_staleness=1000, uplink=uplink)
    c = srv.client(0)
    c.register()
    numel = srv.layout.numel
    enc = make_codec(uplink).encode(torch.randn(numel))
    return srv, c, numel, enc, enc.to_bytes(), srv.core.server.params.clone()


def test_a_thousand_malformed_pushes_are_refused_and_change_nothing(live_server):
    srv, c, numel, enc, good, before = _fuzz_target(live_server, "none")
    sparse = _optional_sparse(srv.layout)
    seen: dict[str, int] = {}
    refused = []

    @settings(max_examples=1000, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(bad_push(good, numel, enc.header_bytes, sparse))
    def one(case):
        fields, data, kind = case
        seen[kind] = seen.get(kind, 0) + 1
        chunks = [pb.PushHeader(**fields).SerializeToString()]
        chunks += [data[i : i + 4096] for i in range(0, len(data), 4096)]
        try:
            reply = c.raw_push(chunks, timeout=10)
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (kind, err.code(), err.details())
            assert err.details(), kind
            refused.append(err.details())
            return
        raise AssertionError(f"a malformed push ({kind}) was answered {reply}")

    one()
    assert len(refused) >= 1000
    assert len(seen) == 11, seen
    assert torch.equal(srv.core.server.params, before), "a refused payload changed the parameters"
    assert srv.core.server.version == 0 and srv.core.coord.stats[0].submitted == 0
    reply = c.push(good, base_version=0, n_samples=4)
    assert reply.accepted and reply.version == 1, "the server must still accept an honest update"
    words = " ".join(refused)
    for phrase in ("truncated", "NaN", "n_samples", "base_version", "total_bytes", "codec"):
        assert phrase in words, phrase


def test_malformed_fp16_pushes_in_any_framing_are_refused_and_change_nothing(live_server):
    """The same hostile pushes for a run whose workers send fp16, which the server decodes frame by
    frame as they arrive, cut into frames of random lengths (entries and the envelope head split
    anywhere): the streamed path must refuse what the whole-message path refuses."""
    srv, c, numel, enc, good, before = _fuzz_target(live_server, "fp16")
    seen: dict[str, int] = {}

    @settings(max_examples=300, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(bad_push(good, numel, enc.header_bytes, _optional_sparse(srv.layout), item=2, wrong="bf16"),
           st.integers(1, 5000))
    def one(case, frame):
        fields, data, kind = case
        seen[kind] = seen.get(kind, 0) + 1
        chunks = [pb.PushHeader(**fields).SerializeToString()]
        chunks += [data[i : i + frame] for i in range(0, len(data), frame)]
        try:
            reply = c.raw_push(chunks, timeout=10)
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (kind, err.code(), err.details())
            assert err.details(), kind
            return
        raise AssertionError(f"a malformed push ({kind}, frames of {frame} bytes) was answered {reply}")

    one()
    assert len(seen) == 11, seen
    assert torch.equal(srv.core.server.params, before), "a refused payload changed the parameters"
    assert srv.core.server.version == 0 and srv.core.coord.stats[0].submitted == 0
    assert c.push(good, base_version=0, n_samples=4).accepted
