import torch

from dist_llm_train.compression import make_codec
from dist_llm_train.layout import ParamLayout


def test_exact_for_rank_r_matrices(layout):
    g = torch.Generator().manual_seed(0)
    state = {}
    for s in layout:
        if s.is_matrix:
            n, m = s.matrix_shape()
            state[s.name] = (torch.randn(n, 2, generator=g) @ torch.randn(2, m, generator=g)).view(s.shape)
        else:
            state[s.name] = torch.randn(s.shape, generator=g)
    flat = layout.flatten(state)
    out = make_codec("powersgd:2", layout=layout, seed=1).roundtrip(flat)[1]
    assert torch.allclose(out, flat, atol=1e-4, rtol=1e-4)


def test_vectors_and_tiny_matrices_are_sent_raw(layout, vec):
    out = make_codec("powersgd:4", layout=layout, seed=0).roundtrip(vec)[1]
    for name in ["attn.b", "ln", "tiny"]:
        s = layout[name]
        assert torch.equal(out[s.offset : s.end], vec[s.offset : s.end])


def test_wire_size_is_the_factor_count(layout, vec):
    r = 3
    expect = 0
    for s in layout:
        n, m = s.matrix_shape() if s.is_matrix else (0, 0)
        expect += r * (n + m) if s.is_matrix and r * (n + m) < n * m else s.numel
    codec = make_codec(f"powersgd:{r}", layout=layout)
    enc = codec.encode(vec)
    assert enc.payload_bytes == 8 + 4 * expect


def test_warm_start_improves_the_approximation_over_calls():
    layout = ParamLayout([("w", (200, 120))])
    g = torch.Generator().manual_seed(4)
    u, _ = torch.linalg.qr(torch.randn(200, 200, generator=g))
    v, _ = torch.linalg.qr(torch.randn(120, 120, generator=g))
    spectrum = 0.7 ** torch.arange(120, dtype=torch.float32)
    mat = (u[:, :120] * spectrum) @ v.t()
    flat = mat.reshape(-1).contiguous()
    codec = make_codec("powersgd:4", layout=layout, seed=2)
    errors = [float((codec.roundtrip(flat)[1] - flat).norm()) for _ in range(6)]
    best = float(spectrum[4:].norm())  # the optimal rank-4 error (Eckart-Young)
    assert errors[-1] < errors[0] * 0.9
    assert errors[-1] < best * 1.05


def test_state_dict_carries_the_warm_start(layout, vec):
    a = make_codec("powersgd:2", layout=layout, seed=3)
    a.encode(vec)
    b = make_codec("powersgd:2", layout=layout, seed=99)
    b.load_state_dict(a.state_dict())
    assert bytes(a.encode(vec).payload) == bytes(b.encode(vec).payload)
