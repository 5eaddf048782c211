"""Shared scratch: workers that run in turn borrow one set of round-long vectors and compute exactly
what they would with their own."""

import torch

from dist_llm_train.compression import ErrorFeedback, make_codec
from dist_llm_train.scratch import ScratchVectors


def test_a_name_is_allocated_once_per_size():
    s = ScratchVectors()
    a = s.get("g", 10)
    assert s.get("g", 10) is a
    b = s.get("g", 12)  # a new size replaces it
    assert b.numel() == 12 and s.names() == ["g"] and s.nbytes() == 48


def test_error_feedback_with_a_shared_pool_matches_private_pools():
    torch.manual_seed(0)
    xs = [[torch.randn(1000) for _ in range(4)] for _ in range(3)]  # 3 senders, 4 rounds each
    shared = ScratchVectors()
    own = [ErrorFeedback(make_codec("topk:0.05")) for _ in range(3)]
    pooled = [ErrorFeedback(make_codec("topk:0.05"), scratch=shared) for _ in range(3)]
    for r in range(4):
        for i in range(3):  # in turn, as the simulator runs its workers
            a = own[i].codec.decode(own[i].encode(xs[i][r]))
            b = pooled[i].codec.decode(pooled[i].encode(xs[i][r]))
            assert torch.equal(a, b)
    for i in range(3):
        assert torch.equal(own[i].residual, pooled[i].residual)  # residuals stay each sender's own
    assert len({id(p.residual) for p in pooled}) == 3
    assert shared.names() == ["ef.corrected", "ef.decoded"]
