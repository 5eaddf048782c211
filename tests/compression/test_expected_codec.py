"""The server decodes only the configured codec: a message whose header names another is refused."""

from __future__ import annotations

import pytest
import torch

from dist_llm_train.compression import CodecSpecError, decode_bytes, make_codec, make_decoder
from dist_llm_train.errors import DecodeError


def test_matching_codec_decodes_also_by_alias(layout, vec):
    data = make_codec("topk:0.05", layout=layout).encode(vec).to_bytes()
    a = decode_bytes(data, layout=layout, expected_spec="topk:0.05")
    b = decode_bytes(data, layout=layout, expected_spec="topk:.05")  # not canonical: still the same codec
    assert torch.equal(a, b) and torch.count_nonzero(a) > 0


@pytest.mark.parametrize(("sent", "configured"), [
    ("none", "topk:0.05"),  # denser than agreed
    ("topk:0.5", "topk:0.05"),  # same family, another ratio
    ("topk:0.05+fp16", "topk:0.05"),
    ("fp16", "none"),
    ("powersgd:2", "powersgd:4"),
])
def test_other_codec_is_refused_naming_both(layout, vec, sent, configured):
    data = make_codec(sent, layout=layout).encode(vec).to_bytes()
    decode_bytes(data, layout=layout)  # valid on its own
    with pytest.raises(DecodeError) as exc:
        decode_bytes(data, layout=layout, expected_spec=configured)
    msg = str(exc.value)
    assert repr(make_codec(sent, layout=layout).spec) in msg and repr(configured) in msg
    assert "compression.codec" in msg


def test_run_decoder_checks_size_and_codec(layout, vec):
    decode = make_decoder(layout, "fp16")
    ok = make_codec("fp16").encode(vec).to_bytes()
    assert torch.allclose(decode(ok), vec, atol=1e-4)
    with pytest.raises(DecodeError, match="'bf16'.*'fp16'"):
        decode(make_codec("bf16").encode(vec).to_bytes())
    with pytest.raises(DecodeError):
        decode(make_codec("fp16").encode(vec[:10]).to_bytes())  # another model's size
    with pytest.raises(CodecSpecError):
        make_decoder(layout, "zip")  # a bad configured codec fails when the decoder is built
