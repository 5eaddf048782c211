"""Push validation: header fields, declared sizes, stream framing, decoded values, rate limit."""

import grpc
import pytest
import torch

from dist_llm_train.errors import DecodeError
from dist_llm_train.runtime.grpc import ps_pb2 as pb
from dist_llm_train.runtime.grpc.validation import (
    PushLimits,
    RateLimiter,
    Rejected,
    check_header,
    decode_update,
    max_push_bytes,
    parse_header,
    receive_payload,
)

LIMITS = PushLimits(numel=100, max_bytes=max_push_bytes(100))


def header(**kw):
    base = dict(worker_id=1, base_version=3, n_samples=8, total_bytes=400, loss=2.0)
    base.update(kw)
    return pb.PushHeader(**base)


@pytest.mark.parametrize("fields, words", [
    (dict(worker_id=2), "may not push for worker 2"),
    (dict(base_version=6), "base_version 6"),
    (dict(base_version=-1), "base_version -1"),
    (dict(n_samples=0), "n_samples 0"),
    (dict(n_samples=1 << 40), "n_samples"),
    (dict(total_bytes=0), "total_bytes 0"),
    (dict(total_bytes=10**9), "total_bytes 1000000000"),
    (dict(loss=float("nan")), "finite"),
])
def test_bad_headers_are_refused_with_the_field_named(fields, words):
    with pytest.raises(Rejected, match=words) as info:
        check_header(header(**fields), authenticated_id=1, server_version=5, limits=LIMITS)
    assert info.value.code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNAUTHENTICATED)


def test_a_good_header_passes():
    check_header(header(), authenticated_id=1, server_version=5, limits=LIMITS)


def test_payload_stream_must_match_its_declared_length():
    data = [b"a" * 10, b"b" * 5]
    assert bytes(receive_payload(iter(data), 15)) == b"a" * 10 + b"b" * 5
    with pytest.raises(Rejected, match="truncated: received 15 bytes"):
        receive_payload(iter(data), 16)
    with pytest.raises(Rejected, match="longer than the declared"):
        receive_payload(iter(data), 12)
    with pytest.raises(Rejected, match="frame is empty"):
        receive_payload(iter([b"a", b""]), 2)


def test_payload_frames_land_in_the_callers_buffer():
    buf = bytearray(b"x" * 8)
    view = receive_payload(iter([b"abc", b"defgh"]), 8, memoryview(buf))
    assert buf == b"abcdefgh" and view.obj is buf
    with pytest.raises(ValueError, match="receive buffer has 8 bytes"):
        receive_payload(iter([b"a"]), 1, memoryview(buf))


def test_the_first_frame_must_be_a_header():
    h = parse_header(header().SerializeToString(), pb.PushHeader, "push")
    assert h.base_version == 3 and h.total_bytes == 400
    with pytest.raises(Rejected, match="must start with a header frame"):
        parse_header(None, pb.PushHeader, "push")
    with pytest.raises(Rejected, match="not a PushHeader"):
        parse_header(b"\xff\xff\xff", pb.PushHeader, "push")


def test_decoded_values_are_checked():
    def decode_raw(b):  # raw fp32, as a codec-free decoder of the right length
        if len(b) % 4:
            raise DecodeError(f"{len(b)} bytes is not a whole number of fp32 values")
        return torch.frombuffer(bytearray(b), dtype=torch.float32)

    good = torch.arange(100, dtype=torch.float32)
    assert torch.equal(decode_update(good.numpy().tobytes(), decode_raw, 100), good)
    bad = good.clone()
    bad[7] = float("nan")
    bad[9] = float("inf")
    with pytest.raises(Rejected, match="2 non-finite values"):
        decode_update(bad.numpy().tobytes(), decode_raw, 100)
    with pytest.raises(Rejected, match="malformed update: 3 bytes"):
        decode_update(b"abc", decode_raw, 100)
    with pytest.raises(Rejected, match=r"the model needs \(100,\)"):
        decode_update(good[:50].numpy().tobytes(), decode_raw, 100)


def test_rate_limiter_allows_bursts_then_refuses_until_time_passes():
    now = [0.0]
    rl = RateLimiter(rate=2.0, burst=3, clock=lambda: now[0])
    assert [rl.allow(0) for _ in range(4)] == [True, True, True, False]
    assert rl.allow(1), "each worker has its own bucket"
    now[0] += 0.5
    assert rl.allow(0) and not rl.allow(0)
    with pytest.raises(Rejected, match="faster than 2 updates/s") as info:
        rl.check(0)
    assert info.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
