"""Bytes from untrusted workers: decoding never crashes, hangs or returns something invalid."""

import struct

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dist_llm_train.compression import Encoded, decode_bytes, make_codec
from dist_llm_train.compression.base import MAGIC, WIRE_VERSION
from dist_llm_train.errors import DecodeError
from dist_llm_train.layout import ParamLayout

LAYOUT = ParamLayout([("w", (12, 10)), ("b", (10,)), ("v", (8, 3))])
SPECS = ["none", "fp16", "bf16", "sign", "qsgd:127", "qsgd:2:16", "qsgd:1000:7", "topk:0.1", "topk:0.2+fp16",
         "topk:0.3+qsgd:7", "topk:0.1+sign", "randomk:0.25", "randomk:0.1+bf16", "powersgd:2", "powersgd:1+fp16"]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_decode(data: bytes) -> None:
    try:
        out = decode_bytes(data, expected_numel=LAYOUT.numel, layout=LAYOUT)
    except DecodeError as exc:
        assert "unexpected error" not in str(exc), exc  # a real check caught it, not the safety net
        return
    assert out.shape == (LAYOUT.numel,) and out.dtype == torch.float32 and torch.isfinite(out).all()


def valid_message(spec: str, seed: int) -> bytes:
    x = torch.randn(LAYOUT.numel, generator=torch.Generator().manual_seed(seed))
    return make_codec(spec, layout=LAYOUT, seed=seed).encode(x).to_bytes()


@SETTINGS
@given(spec=st.sampled_from(SPECS), seed=st.integers(0, 2**31), scale=st.floats(1e-30, 1e30))
def test_encode_decode_roundtrip_any_vector(spec, seed, scale):
    x = torch.randn(LAYOUT.numel, generator=torch.Generator().manual_seed(seed)) * scale
    codec = make_codec(spec, layout=LAYOUT, seed=seed)
    enc = codec.encode(x)
    out = decode_bytes(enc.to_bytes(), expected_numel=LAYOUT.numel, layout=LAYOUT)
    assert torch.equal(out, codec.decode(enc)) and torch.isfinite(out).all()


@SETTINGS
@given(spec=st.sampled_from(SPECS), seed=st.integers(0, 1000), cut=st.integers(0, 10_000))
def test_truncated_messages(spec, seed, cut):
    data = valid_message(spec, seed)
    check_decode(data[: cut % len(data)])


@SETTINGS
@given(spec=st.sampled_from(SPECS), seed=st.integers(0, 1000),
       flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 255)), min_size=1, max_size=6))
def test_mutated_messages(spec, seed, flips):
    data = bytearray(valid_message(spec, seed))
    for pos, mask in flips:
        data[pos % len(data)] ^= mask
    check_decode(bytes(data))


@SETTINGS
@given(spec=st.sampled_from(SPECS), body=st.binary(max_size=2000))
def test_random_payloads_under_a_valid_header(spec, body):
    canonical = make_codec(spec, layout=LAYOUT).spec.encode()
    head = struct.pack("<4sBB", MAGIC, WIRE_VERSION, len(canonical)) + canonical
    check_decode(head + struct.pack("<QQ", LAYOUT.numel, len(body)) + body)


@SETTINGS
@given(data=st.binary(max_size=300))
def test_random_bytes(data):
    check_decode(data)


def test_specific_rejections():
    good = valid_message("topk:0.1", 0)
    enc = Encoded.from_bytes(good)
    cases = {
        "wrong version": good[:4] + bytes([WIRE_VERSION + 1]) + good[5:],
        "wrong magic": b"XXXX" + good[4:],
        "extra byte": good + b"\x00",
        "unknown codec": Encoded("zip:3", enc.numel, enc.payload).to_bytes(),
        "non-canonical": Encoded("fp32", 4, b"\x00" * 16).to_bytes(),
        "nan": make_codec("none").encode(torch.zeros(4)).to_bytes()[:-4] + struct.pack("<f", float("nan")),
    }
    for what, data in cases.items():
        with pytest.raises(DecodeError):
            decode_bytes(data, expected_numel=None if what == "non-canonical" else LAYOUT.numel)
    with pytest.raises(DecodeError, match="model has"):
        decode_bytes(good, expected_numel=LAYOUT.numel + 1)
    huge = Encoded("topk:0.1", 1 << 39, b"").to_bytes()
    with pytest.raises(DecodeError, match="expected_numel"):
        decode_bytes(huge)


def test_duplicate_or_out_of_range_topk_indices_cannot_be_expressed():
    # delta coding makes duplicates and reordering unrepresentable; a gap past the end is rejected
    from dist_llm_train.compression.index_coding import encode_indices

    bad = encode_indices(torch.tensor([5, 200]), 300)  # valid for d=300, out of range for our d=154
    side = struct.pack("<Q", len(bad)) + bad
    payload = side + struct.pack("<2f", 1.0, 2.0)
    with pytest.raises(DecodeError):
        decode_bytes(Encoded("topk:0.01", LAYOUT.numel, payload).to_bytes(), expected_numel=LAYOUT.numel)
