"""Every codec: bytes round trip through decode_bytes, and the wire size equals its formula."""

import math

import pytest
import torch

from dist_llm_train.compression import Encoded, decode_bytes, make_codec
from dist_llm_train.compression.base import MAGIC

SPECS = ["none", "fp16", "bf16", "sign", "qsgd:127", "qsgd:1", "qsgd:7:64", "qsgd:1000:100", "topk:0.1",
         "topk:0.1:approx", "topk:0.05+fp16", "topk:0.05+bf16", "topk:0.1+qsgd:127", "topk:0.1+sign", "randomk:0.1",
         "randomk:0.2+fp16", "powersgd:2", "powersgd:4+bf16"]


def header(spec: str) -> int:
    return len(MAGIC) + 2 + len(spec) + 16


@pytest.mark.parametrize("spec", SPECS)
def test_bytes_roundtrip_matches_local_decode(spec, layout, vec):
    codec = make_codec(spec, layout=layout, seed=7)
    enc = codec.encode(vec)
    data = enc.to_bytes()
    assert len(data) == enc.wire_bytes
    remote = decode_bytes(data, expected_numel=layout.numel, layout=layout)
    assert torch.equal(remote, codec.decode(enc))
    assert remote.shape == vec.shape and torch.isfinite(remote).all()
    again = Encoded.from_bytes(data)
    assert again.spec == codec.spec and again.numel == vec.numel() and bytes(again.payload) == bytes(enc.payload)


@pytest.mark.parametrize("n", [0, 1, 7, 513, 4099])
def test_dense_sizes_follow_their_formulas(n):
    x = torch.randn(n)
    bits_of = {"qsgd:127": 8, "qsgd:1": 2, "qsgd:7:64": 4, "qsgd:1000:100": 11}
    buckets = {"qsgd:127": 512, "qsgd:1": 512, "qsgd:7:64": 64, "qsgd:1000:100": 100}
    expect = {"none": 4 * n, "fp16": 2 * n, "bf16": 2 * n, "sign": 4 + math.ceil(n / 8)}
    for spec, w in bits_of.items():
        expect[spec] = 4 * math.ceil(n / buckets[spec]) + math.ceil(n * w / 8)
    for spec, payload in expect.items():
        codec = make_codec(spec, seed=0)
        enc = codec.encode(x)
        assert enc.wire_bytes == header(codec.spec) + payload == len(enc.to_bytes()), spec


def test_lossless_and_cast_codecs_are_exact_or_rounded(vec):
    assert torch.equal(make_codec("fp32").roundtrip(vec)[1], vec)
    assert torch.equal(make_codec("fp16").roundtrip(vec)[1], vec.half().float())
    assert torch.equal(make_codec("bf16").roundtrip(vec)[1], vec.bfloat16().float())


def test_fp16_saturates_instead_of_overflowing():
    x = torch.tensor([1e6, -1e6, 1.0])
    assert make_codec("fp16").roundtrip(x)[1].tolist() == [65504.0, -65504.0, 1.0]


def test_sign_decodes_scaled_signs():
    x = torch.tensor([3.0, -1.0, 0.0, -4.0, 2.0, 1.0, -1.0, 2.0, -2.0])
    out = make_codec("sign").roundtrip(x)[1]
    scale = x.abs().mean()
    assert torch.allclose(out, torch.where(x >= 0, scale, -scale))


def test_randomk_sends_a_seed_not_indices(layout, vec):
    codec = make_codec("randomk:0.1", seed=3)
    enc = codec.encode(vec)
    k = round(0.1 * vec.numel())
    assert enc.wire_bytes == header(codec.spec) + 8 + 8 + 4 * k
    dec = codec.decode(enc)
    assert int((dec != 0).sum()) == k
    kept = dec != 0
    assert torch.allclose(dec[kept], vec[kept] * vec.numel() / k)


def test_composition_shrinks_values(vec):
    full = make_codec("topk:0.05").encode(vec).wire_bytes
    half = make_codec("topk:0.05+fp16").encode(vec).wire_bytes
    k = round(0.05 * vec.numel())
    assert full - half == 2 * k - len("+fp16")  # values halve, the spec grows


def test_encoding_rejects_non_finite_and_wrong_input():
    for spec in ["none", "fp16", "bf16", "sign", "qsgd:127", "topk:0.5", "randomk:1.0"]:
        with pytest.raises(ValueError):
            make_codec(spec).encode(torch.tensor([1.0, float("nan"), 2.0]))
    with pytest.raises(ValueError, match="1-D float32"):
        make_codec("fp16").encode(torch.zeros(3, dtype=torch.float64))


def test_payload_buffers_are_not_reused_while_a_message_lives():
    codec = make_codec("fp16")
    x = torch.randn(4 << 20)
    first = codec.encode(x)
    snapshot = bytes(first.payload[:64])
    codec.encode(-x)
    codec.encode(2 * x)
    assert bytes(first.payload[:64]) == snapshot
