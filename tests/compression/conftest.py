import pytest
import torch

from dist_llm_train.layout import ParamLayout


@pytest.fixture
def layout() -> ParamLayout:
    """A small transformer-like layout: matrices of several shapes, vectors, a tiny matrix."""
    return ParamLayout([("emb", (97, 24)), ("attn.w", (24, 72)), ("attn.b", (72,)), ("ln", (24,)),
                        ("conv", (8, 3, 3, 3)), ("tiny", (2, 2)), ("head", (24, 10))])


@pytest.fixture
def vec(layout) -> torch.Tensor:
    g = torch.Generator().manual_seed(1234)
    return torch.randn(layout.numel, generator=g) * 1e-2
