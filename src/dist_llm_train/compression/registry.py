"""Codec specs -> codecs, and `decode_bytes`, the one entry point for bytes from the network.

Spec grammar: `STAGE` or `SELECTOR+VALUES`, where a selector is `topk:R[:approx]`,
`randomk:R` or `powersgd:r`, and VALUES (also usable alone) is `none` (aliases `fp32`, `dense`),
`fp16`, `bf16`, `sign` or `qsgd:S[:B]`. The canonical spec (what `codec.spec` returns and what the
wire header carries) rebuilds an identical decoder.
"""

from __future__ import annotations

import math

import torch

from dist_llm_train.compression.base import Codec, Encoded
from dist_llm_train.compression.cast import CastCodec
from dist_llm_train.compression.compose import ComposedCodec, Selector
from dist_llm_train.compression.dense import DenseCodec
from dist_llm_train.compression.identity import IdentityCodec
from dist_llm_train.compression.powersgd import PowerSGDSelector
from dist_llm_train.compression.qsgd import DEFAULT_BUCKET, MAX_LEVELS, QSGDCodec
from dist_llm_train.compression.randomk import RandomKSelector
from dist_llm_train.compression.sign import SignCodec
from dist_llm_train.compression.stream import StreamDecoder
from dist_llm_train.compression.topk import TopKSelector
from dist_llm_train.errors import ConfigError, DecodeError
from dist_llm_train.layout import ParamLayout

#: without expected_numel, layout or out, decode_bytes refuses messages longer than this
MAX_UNCHECKED_NUMEL = 1 << 28

_FORMS = {
    "none": "none (aliases fp32, dense): uncompressed fp32",
    "fp16": "fp16: dense half precision",
    "bf16": "bf16: dense bfloat16",
    "sign": "sign: 1 bit per entry + mean |x| scale",
    "qsgd": f"qsgd:S[:B]: QSGD, S levels in 1..{MAX_LEVELS}, bucket B (default {DEFAULT_BUCKET})",
    "topk": "topk:R[:approx]: largest-magnitude fraction R in (0, 1]",
    "randomk": "randomk:R: uniformly random fraction R in (0, 1], rescaled (unbiased)",
    "powersgd": "powersgd:r: rank r >= 1 per weight matrix (needs the layout)",
}


class CodecSpecError(ConfigError):
    """A codec spec string names an unknown codec or gives it an invalid argument."""


def available_codecs() -> list[str]:
    """The spec forms a config may use (also printed by `dist-llm-train list codecs`)."""
    return ["none", "fp32", "fp16", "bf16", "sign", "qsgd:S[:B]", "topk:R[:approx]", "randomk:R", "powersgd:r",
            "SELECTOR+VALUES (e.g. topk:0.01+fp16, randomk:0.1+bf16, powersgd:4+fp16, topk:0.05+qsgd:127)"]


def _fail(spec: str, why: str) -> CodecSpecError:
    allowed = "; ".join(_FORMS.values())
    return CodecSpecError(f"codec spec {spec!r}: {why}. Allowed: {allowed}; combine as SELECTOR+VALUES "
                          "where SELECTOR is topk/randomk/powersgd and VALUES is none/fp16/bf16/sign/qsgd")


def _ratio(spec: str, name: str, text: str) -> float:
    try:
        r = float(text)
    except ValueError:
        raise _fail(spec, f"{name} ratio {text!r} is not a number") from None
    if not (math.isfinite(r) and 0 < r <= 1):
        raise _fail(spec, f"{name} ratio must be in (0, 1], got {text}")
    return r


def _int(spec: str, what: str, text: str, lo: int, hi: int) -> int:
    if not text.isdigit():
        raise _fail(spec, f"{what} {text!r} is not a positive integer")
    v = int(text)
    if not lo <= v <= hi:
        raise _fail(spec, f"{what} must be in {lo}..{hi}, got {v}")
    return v


def _dense(spec: str, name: str, args: list[str], seed: int | None) -> DenseCodec | None:
    if name in ("none", "fp32", "dense", "fp16", "bf16", "sign") and args:
        raise _fail(spec, f"{name} takes no argument")
    if name in ("none", "fp32", "dense"):
        return IdentityCodec()
    if name == "fp16":
        return CastCodec(torch.float16)
    if name == "bf16":
        return CastCodec(torch.bfloat16)
    if name == "sign":
        return SignCodec()
    if name == "qsgd":
        if not 1 <= len(args) <= 2:
            raise _fail(spec, "qsgd needs qsgd:S or qsgd:S:B")
        s = _int(spec, "qsgd levels S", args[0], 1, MAX_LEVELS)
        b = _int(spec, "qsgd bucket B", args[1], 1, 1 << 30) if len(args) == 2 else DEFAULT_BUCKET
        return QSGDCodec(s, b, seed=seed)
    return None


def _selector(spec: str, name: str, args: list[str], layout: ParamLayout | None, seed: int | None) -> Selector | None:
    if name == "topk":
        if not 1 <= len(args) <= 2 or (len(args) == 2 and args[1] not in ("approx", "exact")):
            raise _fail(spec, "topk needs topk:R, topk:R:exact or topk:R:approx")
        return TopKSelector(_ratio(spec, "topk", args[0]), approx=len(args) == 2 and args[1] == "approx", seed=seed)
    if name == "randomk":
        if len(args) != 1:
            raise _fail(spec, "randomk needs randomk:R")
        return RandomKSelector(_ratio(spec, "randomk", args[0]), seed=seed)
    if name == "powersgd":
        if len(args) != 1:
            raise _fail(spec, "powersgd needs powersgd:r")
        return PowerSGDSelector(_int(spec, "powersgd rank r", args[0], 1, 1 << 16), layout=layout, seed=seed)
    return None


def make_codec(spec: str, layout: ParamLayout | None = None, seed: int | None = None) -> Codec:
    """Build a codec from its spec. `seed` makes the sender's randomness reproducible."""
    if not isinstance(spec, str):
        raise _fail(str(spec), "a codec spec is a string")
    parts = [p.strip() for p in spec.strip().lower().split("+")]
    if len(parts) > 2 or not all(parts):
        raise _fail(spec, "expected one stage or SELECTOR+VALUES")
    fields = [p.split(":") for p in parts]
    (name, *args) = fields[0]
    sel = _selector(spec, name, args, layout, seed)
    if sel is None:
        dense = _dense(spec, name, args, seed)
        if dense is None:
            raise _fail(spec, f"unknown codec {name!r}")
        if len(parts) == 2:
            raise _fail(spec, f"{name} is a value codec; only topk, randomk or powersgd may come before '+'")
        return dense
    if len(parts) == 1:
        return ComposedCodec(sel)
    vname, *vargs = fields[1]
    values = _dense(spec, vname, vargs, None if seed is None else seed + 1)
    if values is None:
        raise _fail(spec, f"{vname!r} cannot encode values (use none, fp16, bf16, sign or qsgd:S)")
    return ComposedCodec(sel, values)


def canonical_spec(spec: str, layout: ParamLayout | None = None) -> str:
    """The spec a codec built from `spec` writes into its messages (`topk:.05` -> `topk:0.05`)."""
    return make_codec(spec, layout=layout).spec


def _codec_for(enc: Encoded, layout: ParamLayout | None, expected_spec: str | None) -> Codec:
    """The codec that decodes `enc`, after the checks every decoder makes: the configured codec only
    (when `expected_spec` is given: the header names the codec that rebuilds the decoder, so without
    this check a worker could pick any codec it likes), a valid and canonical spec."""
    return _codec_for_spec(enc.spec, layout, expected_spec)


def _codec_for_spec(spec: str, layout: ParamLayout | None, expected_spec: str | None) -> Codec:
    if expected_spec is not None and spec != expected_spec and spec != canonical_spec(expected_spec, layout):
        raise DecodeError(f"message was encoded with codec {spec!r}, but this run's compression.codec is "
                          f"{expected_spec!r}: refused")
    try:
        codec = make_codec(spec, layout=layout)
    except CodecSpecError as exc:
        raise DecodeError(f"message header names an invalid codec: {exc}") from None
    if codec.spec != spec:
        raise DecodeError(f"message header spec {spec!r} is not canonical (expected {codec.spec!r})")
    return codec


def stream_decoder(head: bytes | memoryview, expected_numel: int, out: torch.Tensor,
                   layout: ParamLayout | None = None, expected_spec: str | None = None,
                   base: torch.Tensor | None = None) -> tuple[StreamDecoder, int] | None:
    """A frame-by-frame decoder for the message whose first bytes are `head`, and its head length.

    Only for a head that passes every check `decode_bytes` makes of it (magic, version, valid and
    canonical spec, the expected codec, the expected size, the exact payload length) and names an
    elementwise codec (none, fp16, bf16). Anything else is None, never an error: the caller then
    receives the message whole and `decode_bytes` decodes it, or says precisely what is wrong.
    """
    try:
        parsed = Encoded.read_head(head, expected_numel=expected_numel)
        if parsed is None:
            return None
        spec, numel, paylen, head_len = parsed
        codec = _codec_for_spec(spec, layout, expected_spec)
    except DecodeError:
        return None
    if not isinstance(codec, DenseCodec) or codec.item_dtype is None or paylen != codec.payload_nbytes(numel):
        return None
    return StreamDecoder(codec, numel, out, base=base), head_len


def decode_sparse_bytes(data: bytes | bytearray | memoryview, expected_numel: int,
                        layout: ParamLayout | None = None,
                        expected_spec: str | None = None) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Like decode_bytes, but a top-k message comes back as (indices, values) with the same checks
    (envelope, codec, canonical spec, sizes, sorted distinct in-range indices, finite values) and no
    dense vector; None when the message's codec has no sparse form (then use decode_bytes)."""
    enc = Encoded.from_bytes(data, expected_numel=expected_numel)
    codec = _codec_for(enc, layout, expected_spec)
    if not isinstance(codec, ComposedCodec):
        return None
    try:
        return codec.decode_sparse(enc)
    except DecodeError:
        raise
    except (ValueError, RuntimeError, IndexError, OverflowError, MemoryError) as exc:
        raise DecodeError(f"unexpected error while decoding a {enc.spec} message: {exc}") from exc


def decode_bytes(data: bytes | bytearray | memoryview, expected_numel: int | None = None,
                 layout: ParamLayout | None = None, out: torch.Tensor | None = None,
                 expected_spec: str | None = None) -> torch.Tensor:
    """Parse, check and decode one message from the wire. Any invalid input raises DecodeError.

    Pass `expected_numel` (the server passes layout.numel): without it, `out` or a layout, messages
    claiming more than MAX_UNCHECKED_NUMEL entries are refused rather than allocated.

    Pass `expected_spec` (the run's `compression.codec`): the header names the codec that rebuilds
    the decoder, so without this check a worker could pick any codec it likes (a denser one than
    agreed, or one the aggregator was not tuned for). Canonical specs compare fastest.
    """
    if expected_numel is None:
        if out is not None:
            expected_numel = out.numel()
        elif layout is not None:
            expected_numel = layout.numel
    enc = Encoded.from_bytes(data, expected_numel=expected_numel)
    if expected_numel is None and enc.numel > MAX_UNCHECKED_NUMEL:
        raise DecodeError(f"message claims {enc.numel} entries; pass expected_numel to accept more than "
                          f"{MAX_UNCHECKED_NUMEL}")
    codec = _codec_for(enc, layout, expected_spec)
    try:
        return codec.decode(enc, out=out)
    except DecodeError:
        raise
    except (ValueError, RuntimeError, IndexError, OverflowError, MemoryError) as exc:
        # defence in depth for bytes from untrusted peers; the tests check that no input gets here
        raise DecodeError(f"unexpected error while decoding a {enc.spec} message: {exc}") from exc


def make_decoder(layout: ParamLayout, expected_spec: str | None = None):
    """The server's decoder for one run: messages of this layout's size, in the configured codec only."""
    spec = canonical_spec(expected_spec, layout) if expected_spec is not None else None

    def decode(data: bytes | bytearray | memoryview, out: torch.Tensor | None = None) -> torch.Tensor:
        return decode_bytes(data, expected_numel=layout.numel, layout=layout, out=out, expected_spec=spec)

    return decode


def make_stream_decoder(layout: ParamLayout, expected_spec: str | None = None):
    """Like make_decoder, frame by frame: `decode_stream(head, out)` -> (StreamDecoder, head length)
    for this layout and the configured codec, or None (then decode the whole message)."""
    spec = canonical_spec(expected_spec, layout) if expected_spec is not None else None

    def decode_stream(head: bytes | memoryview, out: torch.Tensor):
        return stream_decoder(head, layout.numel, out, layout=layout, expected_spec=spec)

    return decode_stream


def make_sparse_decoder(layout: ParamLayout, expected_spec: str | None = None):
    """Like make_decoder, for top-k messages as (indices, values) (None for codecs without a sparse form)."""
    spec = canonical_spec(expected_spec, layout) if expected_spec is not None else None

    def decode_sparse(data: bytes | bytearray | memoryview):
        return decode_sparse_bytes(data, expected_numel=layout.numel, layout=layout, expected_spec=spec)

    return decode_sparse
