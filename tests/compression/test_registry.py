import pytest

from dist_llm_train.compression import CodecSpecError, available_codecs, make_codec
from dist_llm_train.errors import ConfigError, PreconditionError


@pytest.mark.parametrize("spec,needle", [
    ("topk:0", "(0, 1]"), ("topk:1.5", "(0, 1]"), ("randomk:0", "(0, 1]"), ("qsgd:0", "1..32767"),
    ("powersgd:0", "1.."), ("zip", "unknown codec 'zip'"), ("topk", "topk:R"), ("fp16+topk:0.1", "value codec"),
    ("topk:0.1+topk:0.1", "cannot encode values"), ("qsgd:abc", "not a positive integer"),
    ("topk:nan", "(0, 1]"), ("a+b+c", "SELECTOR+VALUES"), ("fp16:3", "no argument"), ("topk:0.1:fast", "approx"),
])
def test_bad_specs_name_the_problem_and_the_allowed_codecs(spec, needle):
    with pytest.raises(CodecSpecError) as err:
        make_codec(spec)
    assert needle in str(err.value)
    assert "Allowed:" in str(err.value) and "qsgd:S" in str(err.value)
    assert isinstance(err.value, ConfigError) and isinstance(err.value, ValueError)


def test_canonical_specs_rebuild_themselves():
    for spec in ["none", "fp32", "dense", "fp16", "bf16", "sign", "qsgd:127", "topk:0.01", "topk:0.01:exact",
                 "topk:0.01:approx", "randomk:0.1+fp16", "powersgd:4+bf16", "topk:0.05+qsgd:15:128"]:
        canonical = make_codec(spec).spec
        assert make_codec(canonical).spec == canonical
    assert make_codec("fp32").spec == "none"
    assert make_codec("qsgd:127").spec == "qsgd:127:512"
    assert make_codec("TopK:0.01+FP16").spec == "topk:0.01+fp16"


def test_available_codecs_lists_every_family():
    text = " ".join(available_codecs())
    for name in ["none", "fp16", "bf16", "sign", "qsgd", "topk", "randomk", "powersgd", "+"]:
        assert name in text


def test_powersgd_without_layout_says_how_to_fix():
    import torch

    codec = make_codec("powersgd:2")  # building it for a config check needs no layout
    with pytest.raises(PreconditionError, match="layout=layout"):
        codec.encode(torch.zeros(10))
