import pytest
import torch

from dist_llm_train.aggregation.base import NonFiniteRows
from dist_llm_train.aggregation.distances import (
    combine_rows,
    distances_to,
    gram_matrix,
    mix_rows,
    pairwise_sq_distances,
    row_norms,
)


def test_chunked_gram_distances_equal_cdist():
    # prepare: more columns than one chunk so that chunk boundaries are crossed
    x = torch.randn(9, 5000, dtype=torch.float32, generator=torch.Generator().manual_seed(1))
    # execute
    d2 = pairwise_sq_distances(x, chunk=1024)
    # assert
    ref = torch.cdist(x.double(), x.double()) ** 2
    assert torch.allclose(d2, ref, rtol=1e-5, atol=1e-2)
    assert torch.all(torch.diagonal(d2) == 0)


def test_gram_matrix_equals_product():
    x = torch.randn(4, 3000, generator=torch.Generator().manual_seed(3))
    # products are summed in fp32 within a chunk: an off-diagonal entry near 0 carries an absolute
    # error of about 1e-7 x sqrt(700) x |x|^2 per chunk, which no relative tolerance covers
    assert torch.allclose(gram_matrix(x, chunk=700), (x.double() @ x.double().T), rtol=1e-5, atol=1e-3)


def test_batched_gram_with_remainder_and_strided_input_equal_product():
    # prepare: two whole batches of 3 chunks of 128 columns, then a ragged remainder
    x = torch.randn(6, 2 * 3 * 128 + 301, generator=torch.Generator().manual_seed(2))
    ref = x.double() @ x.double().T
    # execute / assert: the batched path, and a column-strided view that must take the plain path
    assert torch.allclose(gram_matrix(x, chunk=128, batch=3), ref, rtol=1e-5)
    xt = x.T.contiguous().T  # same values, column stride 1 is gone
    assert xt.stride(1) != 1
    assert torch.allclose(gram_matrix(xt, chunk=128, batch=3), ref, rtol=1e-5)


def test_distances_to_point_and_norms():
    x = torch.randn(5, 2500)
    v = torch.randn(2500)
    assert torch.allclose(distances_to(x, v, chunk=600), (x.double() - v.double()).norm(dim=1), rtol=1e-6)
    assert torch.allclose(row_norms(x, chunk=600), x.double().norm(dim=1), rtol=1e-6)


def test_combine_and_mix_rows():
    x = torch.randn(4, 3000)
    c = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    assert torch.allclose(combine_rows(x, c, chunk=512), c.float() @ x, atol=1e-5)
    m = torch.rand(2, 4, dtype=torch.float64)
    assert torch.allclose(mix_rows(x, m, chunk=512), m.float() @ x, atol=1e-5)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_nonfinite_rows_are_reported_exactly(bad):
    x = torch.randn(5, 1000)
    x[3, 777] = bad
    for fn in (lambda: gram_matrix(x), lambda: distances_to(x, torch.zeros(1000)), lambda: row_norms(x),
               lambda: combine_rows(x, torch.full((5,), 0.2, dtype=torch.float64))):
        with pytest.raises(NonFiniteRows) as exc:
            fn()
        assert exc.value.rows == [3]


def test_huge_but_finite_rows_are_not_faults():
    # prepare: values whose squares overflow fp32 but that are finite
    x = torch.randn(3, 100)
    x[1] = 3e30
    # execute / assert: no NonFiniteRows (the overflow is confirmed as finite data)
    d = row_norms(x)
    assert torch.isfinite(d[0]) and torch.isfinite(d[2])
