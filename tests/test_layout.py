import pytest
import torch

from dist_llm_train.layout import ParamLayout


def _module():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3), torch.nn.Linear(3, 2, bias=False))


def test_flatten_unflatten_roundtrip():
    m = _module()
    layout = ParamLayout.from_module(m)
    assert layout.numel == 4 * 3 + 3 + 3 + 3 + 3 * 2
    flat = layout.flatten_module(m)
    views = layout.unflatten(flat)
    for name, p in m.named_parameters():
        assert torch.equal(views[name], p.detach())
    assert [s.name for s in layout.matrices()] == ["0.weight", "2.weight"]


def test_offsets_are_contiguous_and_ordered():
    layout = ParamLayout([("a", (2, 3)), ("b", (5,)), ("c", ())])
    assert [(s.offset, s.end) for s in layout] == [(0, 6), (6, 11), (11, 12)]


def test_load_into_module_and_grads():
    m = _module()
    layout = ParamLayout.from_module(m)
    new = torch.arange(layout.numel, dtype=torch.float32)
    layout.load_into_module(m, new)
    assert torch.equal(layout.flatten_module(m), new)
    m(torch.randn(5, 4)).sum().backward()
    g = layout.flatten_grads(m)
    assert g.shape == (layout.numel,) and g.abs().sum() > 0


def test_state_dict_and_json_roundtrip():
    m = _module()
    sd = {k: v.clone() for k, v in m.state_dict().items()}
    layout = ParamLayout.from_state_dict(sd)
    assert ParamLayout.from_json(layout.to_json()) == layout
    flat = layout.flatten(sd)
    back = layout.unflatten(flat)
    assert all(torch.equal(back[k], sd[k]) for k in sd)


def test_shape_mismatch_and_duplicates_are_errors():
    layout = ParamLayout([("a", (2, 2))])
    with pytest.raises(ValueError, match="shape"):
        layout.flatten({"a": torch.zeros(3)})
    with pytest.raises(KeyError):
        layout.flatten({})
    with pytest.raises(ValueError, match="twice"):
        ParamLayout([("a", (1,)), ("a", (2,))])
    with pytest.raises(ValueError, match="1-D vector of 4"):
        layout.unflatten(torch.zeros(5))
