import pytest
import torch
from safetensors.torch import load_file, save_file

from dist_llm_train.compression import ErrorFeedback, make_codec


@pytest.mark.parametrize("spec", ["topk:0.05", "sign", "qsgd:3", "randomk:0.1+fp16", "powersgd:1+bf16", "none"])
def test_decoded_sum_plus_residual_equals_input_sum(spec, layout):
    g = torch.Generator().manual_seed(8)
    ef = ErrorFeedback(make_codec(spec, layout=layout, seed=0))
    total_in = torch.zeros(layout.numel, dtype=torch.float64)
    total_out = torch.zeros(layout.numel, dtype=torch.float64)
    for _ in range(20):
        x = torch.randn(layout.numel, generator=g)
        total_in += x.double()
        total_out += ef.codec.decode(ef.encode(x)).double()
    gap = total_in - total_out - ef.residual.double()
    # fp32 rounding of each step's subtraction, at the scale of the largest term involved
    scale = max(float(t.abs().max()) for t in (total_in, total_out, ef.residual))
    assert float(gap.abs().max()) < 20 * 2e-7 * scale


def test_error_feedback_recovers_what_top_k_drops():
    x = torch.linspace(-1, 1, 1000)
    ef = ErrorFeedback(make_codec("topk:0.01"))
    plain = make_codec("topk:0.01")
    sent_ef = sum(ef.codec.decode(ef.encode(x)) for _ in range(1000))
    sent_plain = sum(plain.roundtrip(x)[1] for _ in range(1000))
    target = 1000 * x  # plain top-k error grows with steps, EF error stays the residual
    assert (sent_ef - target).norm() < 0.1 * (sent_plain - target).norm()


def test_state_roundtrips_through_safetensors(tmp_path, layout, vec):
    ef = ErrorFeedback(make_codec("powersgd:2", layout=layout, seed=1))
    ef.encode(vec)
    save_file(ef.state_dict(), tmp_path / "ef.safetensors")
    other = ErrorFeedback(make_codec("powersgd:2", layout=layout, seed=5))
    other.load_state_dict(load_file(tmp_path / "ef.safetensors"))
    assert torch.equal(other.residual, ef.residual)
    assert bytes(other.encode(vec).payload) == bytes(ef.encode(vec).payload)


def test_reset_and_size_change():
    ef = ErrorFeedback(make_codec("topk:0.1"))
    ef.encode(torch.randn(100))
    with pytest.raises(ValueError, match="reset"):
        ef.encode(torch.randn(50))
    ef.reset()
    assert ef.residual is None
    ef.encode(torch.randn(50))
    assert ef.residual.numel() == 50
    with pytest.raises(ValueError, match="unexpected keys"):
        ef.load_state_dict({"bogus": torch.zeros(1)})
