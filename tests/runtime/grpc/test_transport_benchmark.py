"""The transport benchmark runs end to end on a small vector, in both arrangements, and its worker's
replica ends bit-for-bit equal to the server's mirror (bench_codec raises otherwise)."""

import pytest

from dist_llm_train.runtime.grpc.benchmark import bench_codec


@pytest.mark.parametrize("same_process", [True, False])
def test_bench_codec_times_every_operation(same_process):
    rows = bench_codec("fp16", 50_000, repeats=1, same_process=same_process)
    assert [r["op"] for r in rows] == ["push fp16", "pull full fp32", "pull delta fp16"]
    for r in rows:
        assert r["transfer"] > 0 and r["raw"] > 0 and r["bytes"] > 0
    assert rows[1]["bytes"] == 4 * 50_000
