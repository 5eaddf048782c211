"""Frame-by-frame decoding of the elementwise codecs: the same vector as a whole-message decode for
any framing, and every stream a whole-message decode refuses refused here too."""

import random
import struct

import pytest
import torch

from dist_llm_train.compression import decode_bytes, make_codec
from dist_llm_train.compression.base import Encoded
from dist_llm_train.compression.registry import stream_decoder
from dist_llm_train.compression.stream import STEP, StreamDecoder, take_head
from dist_llm_train.errors import DecodeError

SPECS = ["none", "fp16", "bf16"]


def split(data: bytes, rng: random.Random, max_frame: int) -> list[bytes]:
    """Frames of random lengths 1..max_frame (entries and the head split anywhere)."""
    out, pos = [], 0
    while pos < len(data):
        n = rng.randint(1, max_frame)
        out.append(data[pos : pos + n])
        pos += n
    return out


def decode_frames(frames: list[bytes], numel: int, base=None, spec=None) -> torch.Tensor:
    it = iter(frames)
    read, head = take_head(it, sum(len(f) for f in frames))
    got = stream_decoder(head, numel, torch.empty(numel), expected_spec=spec, base=base)
    assert got is not None
    dec, head_len = got
    skip = head_len
    for frame in [*read, *it]:
        if skip >= len(frame):
            skip -= len(frame)
            continue
        dec.feed(frame[skip:])
        skip = 0
    return dec.finish()


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("max_frame", [1, 3, 7, 64, 4096])
def test_any_framing_decodes_to_the_whole_message_decode(spec, max_frame):
    numel = 1000 if max_frame > 1 else 97
    x = torch.randn(numel, generator=torch.Generator().manual_seed(numel)) * 10
    data = make_codec(spec).encode(x).to_bytes()
    frames = split(data, random.Random(max_frame), max_frame)
    assert torch.equal(decode_frames(frames, numel), decode_bytes(data, expected_numel=numel))


@pytest.mark.parametrize("spec", SPECS)
def test_with_a_base_the_result_is_base_plus_delta_bit_for_bit(spec):
    numel = 3 * STEP + 5  # several steps inside one frame
    gen = torch.Generator().manual_seed(1)
    base, delta = torch.randn(numel, generator=gen), torch.randn(numel, generator=gen) * 1e-3
    data = make_codec(spec).encode(delta).to_bytes()
    frames = [data[:10], data[10 : 10 + (1 << 20) + 1], data[10 + (1 << 20) + 1 :]]
    before = base.clone()
    out = decode_frames(frames, numel, base=base)
    assert torch.equal(out, before + decode_bytes(data, expected_numel=numel))
    assert torch.equal(base, before), "the base is only read"


def _payload_decoder(spec: str, numel: int, **kw) -> StreamDecoder:
    return StreamDecoder(make_codec(spec), numel, torch.empty(numel), **kw)


@pytest.mark.parametrize("spec", SPECS)
def test_short_and_long_payloads_are_refused(spec):
    codec = make_codec(spec)
    payload = bytes(make_codec(spec).encode(torch.ones(10)).payload)
    short = _payload_decoder(spec, 10)
    short.feed(payload[:-1])
    with pytest.raises(DecodeError, match="payload length"):
        short.finish()
    long = _payload_decoder(spec, 10)
    long.feed(payload)
    long.feed(b"\0" * codec.item_bytes)
    with pytest.raises(DecodeError, match="payload length"):
        long.finish()


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_values_are_refused_with_the_codecs_message(spec, bad):
    x = torch.randn(5000)
    data = make_codec(spec).encode(x).to_bytes()
    head = make_codec(spec).encode(x).header_bytes
    item = make_codec(spec).item_bytes
    raw = bytearray(data)
    pos = head + item * 4321
    dtype = {"none": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[spec]
    raw[pos : pos + item] = torch.tensor([bad]).to(dtype).view(torch.uint8).numpy().tobytes()
    with pytest.raises(DecodeError) as whole:
        decode_bytes(bytes(raw), expected_numel=5000)
    with pytest.raises(DecodeError) as streamed:
        decode_frames(split(bytes(raw), random.Random(0), 999), 5000)
    assert str(streamed.value) == str(whole.value) and "NaN or Inf" in str(streamed.value)


def test_a_full_parameter_stream_may_carry_non_finite_values_when_asked():
    dec = _payload_decoder("none", 3, check_finite=False)
    dec.feed(struct.pack("<3f", 1.0, float("nan"), 2.0))
    out = dec.finish()
    assert out[0] == 1.0 and out[2] == 2.0 and out[1].isnan()


def test_finite_values_that_overflow_in_the_sum_are_not_refused():
    big = torch.full((4,), 3e38)  # finite, but their fp32 sum is inf
    dec = _payload_decoder("none", 4)
    dec.feed(big.numpy().tobytes())
    assert torch.equal(dec.finish(), big)


def test_take_head_reads_only_what_the_head_needs():
    enc = make_codec("fp16").encode(torch.ones(8))
    data = enc.to_bytes()
    frames = [data[:2], data[2:5], data[5 : enc.header_bytes + 3], data[enc.header_bytes + 3 :]]
    it = iter(frames)
    read, head = take_head(it, len(data))
    assert head == enc.head() and read == frames[:3]
    assert list(it) == frames[3:]
    # a stream that ends (or holds an empty frame) before its head: what there is, and no error
    read, head = take_head(iter([data[:4]]), len(data))
    assert head == data[:4] and read == [data[:4]]
    read, head = take_head(iter([data[:4], b"", data[4:]]), len(data))
    assert head == data[:4] and read == [data[:4], b""]
    read, head = take_head(iter([data]), 3)  # the declared length stops it too
    assert read == [data]


def test_read_head_needs_the_whole_head_and_checks_it():
    enc = make_codec("bf16").encode(torch.ones(8))
    head = enc.head()
    assert Encoded.read_head(head[:5]) is None and Encoded.read_head(head[:-1]) is None
    assert Encoded.read_head(head) == ("bf16", 8, 16, len(head))
    with pytest.raises(DecodeError, match="magic"):
        Encoded.read_head(b"XXXX" + head[4:])
    with pytest.raises(DecodeError, match="the model has 9"):
        Encoded.read_head(head, expected_numel=9)


@pytest.mark.parametrize("make, why", [
    (lambda n: make_codec("topk:0.1").encode(torch.randn(n)).to_bytes(), "a sparse codec"),
    (lambda n: make_codec("qsgd:15").encode(torch.randn(n)).to_bytes(), "entries share bucket norms"),
    (lambda n: make_codec("sign").encode(torch.randn(n)).to_bytes(), "entries share a scale"),
    (lambda n: make_codec("fp16").encode(torch.randn(n + 1)).to_bytes(), "another size"),
    (lambda n: b"DLTC" + make_codec("fp16").encode(torch.randn(n)).to_bytes()[4:5] + b"\x04FP16" +
     make_codec("fp16").encode(torch.randn(n)).to_bytes()[10:], "a spec that is not canonical"),
    (lambda n: b"XLTC" + make_codec("fp16").encode(torch.randn(n)).to_bytes()[4:], "bad magic"),
    (lambda n: make_codec("fp16").encode(torch.randn(n)).to_bytes()[:12], "a head cut short"),
])
def test_heads_that_are_not_streamable_are_left_to_the_whole_message_decode(make, why):
    n = 500
    data = make(n)
    assert stream_decoder(data[:300], n, torch.empty(n)) is None, why


def test_the_expected_codec_is_enforced_and_the_payload_length_must_match():
    n = 100
    data = make_codec("fp16").encode(torch.randn(n)).to_bytes()
    assert stream_decoder(data, n, torch.empty(n), expected_spec="fp16") is not None
    assert stream_decoder(data, n, torch.empty(n), expected_spec="bf16") is None
    lying = bytearray(data)
    struct.pack_into("<Q", lying, len(make_codec("fp16").encode(torch.randn(n)).head()) - 8, 2 * n + 2)
    assert stream_decoder(bytes(lying), n, torch.empty(n)) is None
