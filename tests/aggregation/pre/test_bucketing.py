import math

import pytest
import torch

from dist_llm_train.aggregation import make_aggregator
from dist_llm_train.aggregation.pre.bucketing import Bucketing


def test_buckets_partition_the_inputs():
    # prepare: 7 inputs, buckets of 3 -> ceil(7/3) = 3 rows
    x = torch.arange(7, dtype=torch.float32)[:, None]
    # execute
    rows, w, mix = Bucketing(3).apply(x, None, 0)
    # assert: each input belongs to exactly one bucket, and the bucket rows are their means
    assert rows.shape == (3, 1) and Bucketing(3).output_count(7) == 3
    assert torch.equal((mix > 0).sum(dim=0), torch.ones(7, dtype=torch.int64))
    assert torch.allclose(rows, mix.float() @ x)
    assert rows.sum().item() == pytest.approx(sum(x[mix[b] > 0].mean().item() for b in range(3)))


def test_buckets_change_each_call_but_are_seeded():
    a, b = Bucketing(2, seed=1), Bucketing(2, seed=1)
    x = torch.randn(6, 2)
    first, second = a.apply(x, None, 0)[2], a.apply(x, None, 0)[2]
    assert torch.equal(first, b.apply(x, None, 0)[2])
    assert not torch.equal(first, second) or math.factorial(6) == 1


def test_trust_of_a_filtered_bucket_maps_to_its_members():
    # 6 inputs, buckets of 2 -> 3 rows; one bucket is far away, median (f=1) ignores it
    x = torch.tensor([[0.0], [0.1], [0.2], [0.3], [100.0], [100.0]])
    agg = make_aggregator("median", f=1, pre=["bucketing:2"])
    out = agg(x)
    assert out.info["seen_n"] == 3
    assert out.trust[4] <= out.trust[:4].max()


def test_bucketed_median_stays_robust(attacked):
    # one Byzantine input spoils at most one of the 5 buckets, which median (f = 1) then outvotes
    rd = attacked("sign_flip", n=10, f=1, scale=50.0)
    bucketed = make_aggregator("median", f=1, pre=["bucketing:2"])(rd.updates)
    assert rd.error(bucketed.update) < 0.6 < rd.error(make_aggregator("mean")(rd.updates).update)
    assert bucketed.trust[-1] < 0.1
