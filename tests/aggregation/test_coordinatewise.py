import pytest
import torch

from dist_llm_train.aggregation import coordinatewise
from dist_llm_train.aggregation.base import NonFiniteRows
from dist_llm_train.aggregation.coordinatewise import ColumnStat, CoordinatewiseRunner


def _reference(x, stat):
    s = x.sort(dim=0).values
    n = x.shape[0]
    if stat.kind == "median":
        return s[(n - 1) // 2 : n // 2 + 1].mean(dim=0)
    if stat.kind == "trimmed":
        return s[stat.trim : n - stat.trim].mean(dim=0)
    beta = n - stat.trim
    med = s[(n - 1) // 2 : n // 2 + 1].mean(dim=0)
    best = torch.stack([torch.maximum(med - s[k], s[k + beta - 1] - med) for k in range(stat.trim + 1)]).argmin(0)
    windows = torch.stack([s[k : k + beta].mean(dim=0) for k in range(stat.trim + 1)])
    return windows.gather(0, best[None]).squeeze(0)


@pytest.mark.parametrize("stat", [ColumnStat("median", 10), ColumnStat("median", 9), ColumnStat("trimmed", 10, 2),
                                  ColumnStat("trimmed", 7, 3), ColumnStat("window", 7, 2), ColumnStat("window", 8, 4)])
def test_eager_runner_matches_sort_reference_across_chunks(monkeypatch, stat):
    # prepare: small chunks so several chunks and a ragged tail are exercised
    monkeypatch.setattr(coordinatewise, "EAGER_CHUNK", 256)
    x = torch.randn(stat.n, 1000, generator=torch.Generator().manual_seed(stat.n))
    # execute
    out, kept, kernel = CoordinatewiseRunner("eager")(x, stat)
    # assert
    assert kernel == "eager"
    assert torch.allclose(out, _reference(x, stat), atol=1e-6)
    assert float(kept.sum()) == pytest.approx(stat.kept_per_coordinate)  # no ties in continuous data


def test_rows_subset_is_gathered_per_chunk(monkeypatch):
    monkeypatch.setattr(coordinatewise, "EAGER_CHUNK", 128)
    x = torch.randn(6, 500)
    rows = [0, 2, 3, 5]
    out, kept, _ = CoordinatewiseRunner("eager")(x, ColumnStat("median", 4), rows=rows)
    assert torch.allclose(out, _reference(x[rows], ColumnStat("median", 4)))
    assert kept.shape == (4,)


def test_nonfinite_row_raises_with_its_index():
    x = torch.randn(5, 300)
    x[2, 10] = float("nan")
    with pytest.raises(NonFiniteRows) as exc:
        CoordinatewiseRunner("eager")(x, ColumnStat("median", 5))
    assert exc.value.rows == [2]


def test_unknown_backend_is_rejected():
    with pytest.raises(ValueError, match="backend"):
        CoordinatewiseRunner("fast")


@pytest.mark.slow
@pytest.mark.parametrize("stat", [ColumnStat("median", 10), ColumnStat("trimmed", 10, 2), ColumnStat("window", 7, 2)])
def test_compiled_kernel_matches_eager(stat):
    # prepare: two full compiled chunks plus a tail handled eagerly
    x = torch.randn(stat.n, 2 * coordinatewise.COMPILED_CHUNK + 1000, generator=torch.Generator().manual_seed(0))
    # execute
    out_c, kept_c, kernel = CoordinatewiseRunner("compiled")(x, stat)
    out_e, kept_e, _ = CoordinatewiseRunner("eager")(x, stat)
    # assert
    assert kernel == "compiled"
    assert torch.allclose(out_c, out_e, atol=1e-6)
    # both count kept values on a 1/64 sample of columns (d > 1M); the eager tail adds its own sample
    assert torch.allclose(kept_c, kept_e, atol=0.01)


@pytest.mark.slow
def test_compiled_kernel_on_a_row_subset_reads_rows_in_place_and_reports_its_nonfinite_rows():
    # prepare: 9 rows of which 7 are chosen; a NaN in an unchosen row, then in a chosen one
    stat = ColumnStat("window", 7, 2)
    rows = [0, 1, 3, 4, 5, 7, 8]
    x = torch.randn(9, coordinatewise.COMPILED_CHUNK + 500, generator=torch.Generator().manual_seed(3))
    x[2, 10] = float("nan")
    # execute
    out_c, kept_c, kernel = CoordinatewiseRunner("compiled")(x, stat, rows=rows)
    out_e, kept_e, _ = CoordinatewiseRunner("eager")(x[rows], stat)
    # assert: same statistic as on the copied rows; the unchosen NaN row does not matter
    assert kernel == "compiled"
    assert torch.allclose(out_c, out_e, atol=1e-6)
    assert torch.allclose(kept_c, kept_e, atol=0.01)
    x[4, 20] = float("inf")
    with pytest.raises(NonFiniteRows) as exc:
        CoordinatewiseRunner("compiled")(x, stat, rows=rows)
    assert exc.value.rows == [4]
