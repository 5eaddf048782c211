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


def test_topk_rows_take_the_after_arrival_decode_apart():
    """top-k is decoded after it has arrived: its transport time is the transfer less that decode;
    fp16 decodes while it arrives, so its transport time is its whole transfer."""
    topk = bench_codec("topk:0.01", 200_000, repeats=1, same_process=True)
    assert [r["op"] for r in topk] == ["push topk:0.01", "pull full fp32", "pull delta topk:0.01"]
    for r in (topk[0], topk[2]):
        assert r["serial_decode"] and 0 < r["decode"] < r["transfer"]
        assert r["transport"] == pytest.approx(r["transfer"] - r["decode"])
        assert r["transport_ratio"] > r["ratio"]
    assert not topk[1]["serial_decode"] and topk[1]["transport"] == topk[1]["transfer"]
    for r in topk:  # grpcio alone moved the same bytes: a floor the service's own transport sits on
        assert r["bare"] > 0 and r["bare_ratio"] == pytest.approx(r["raw"] / r["bare"])
        assert r["transport_over_bare"] == pytest.approx(r["transport"] / r["bare"])
