"""Gradient compression: codecs with a real wire format, composition, error feedback.

Public API: `make_codec(spec, layout=None, seed=None)`, `available_codecs()`,
`decode_bytes(data, expected_numel=None, layout=None, out=None)`, `ErrorFeedback(codec)`,
`Codec`, `Encoded`. See docs/compression.md.
"""

from dist_llm_train.compression.base import Codec, Encoded
from dist_llm_train.compression.error_feedback import ErrorFeedback
from dist_llm_train.compression.registry import (
    MAX_UNCHECKED_NUMEL,
    CodecSpecError,
    available_codecs,
    canonical_spec,
    decode_bytes,
    make_codec,
    make_decoder,
)

__all__ = ["Codec", "Encoded", "ErrorFeedback", "CodecSpecError", "MAX_UNCHECKED_NUMEL", "available_codecs",
           "canonical_spec", "decode_bytes", "make_codec", "make_decoder"]
