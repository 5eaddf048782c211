"""RunResults written from explicit numbers, for the pure arithmetic of the validation layer.

The summaries are built the way the coordinator builds them (accounting.WorkerStats.to_json and
filtering_summary), so the figures under test read exactly the structure a real run writes.
"""

from __future__ import annotations

import math
from collections import Counter

import pytest

from dist_llm_train.controller.run_result import RunResult
from dist_llm_train.sync.accounting import WorkerStats, summarize_stats


def build_run(
    name: str,
    curve: list[tuple],  # (step, samples, virtual_time, bytes_up, bytes_down, loss)
    workers: list[dict],  # WorkerStats fields: submitted, accepted, rejected, staleness, bytes_up, ...
    regions: list[str] | None = None,
    byzantine: tuple[int, ...] = (),
    kind: str = "causal",
    mlm_accuracy: list[float] | None = None,
    mode: str = "async",
    codec: str = "topk:0.05",
    num_params: int = 1_000_000,
    stopped_by: str = "max_server_steps",
    virtual_time: float | None = None,
    utilization: list[float] | None = None,
) -> RunResult:
    points = []
    for i, (step, samples, vt, up, down, loss) in enumerate(curve):
        p = {"step": step, "virtual_time": vt, "samples": samples, "samples_processed": samples, "bytes_up": up,
             "bytes_down": down, "train_loss": None if i == 0 else loss + 0.1, "loss": loss,
             "perplexity": math.exp(loss) if kind == "causal" and math.isfinite(loss) else None,
             "mlm_accuracy": mlm_accuracy[i] if mlm_accuracy else None, "tokens": 4096}
        points.append(p)
    stats = []
    for i, w in enumerate(workers):
        s = WorkerStats(worker_id=i, byzantine=i in byzantine)
        s.submitted, s.accepted = w["submitted"], w["accepted"]
        s.rejected = Counter(w.get("rejected", {}))
        s.staleness = Counter(w.get("staleness", {}))
        s.accepted_staleness = Counter(w.get("accepted_staleness", {}))
        s.bytes_up, s.bytes_down = w["bytes_up"], w["bytes_down"]
        s.samples = w.get("samples", 8 * w["accepted"])
        s.aggregations, s.filtered = w.get("aggregations", 0), w.get("filtered", 0)
        s.trust_sum = w.get("trust_sum", 0.0)
        s.compute_time = w.get("compute_time", 0.0)
        stats.append(s)
    summary = summarize_stats(stats, curve[-1][0])
    n = len(workers)
    regions = regions or ["lan"] * n
    vt = virtual_time if virtual_time is not None else curve[-1][2]
    return RunResult(
        name=name, run_dir=None,
        config={"sync": {"mode": mode, "max_staleness": 50, "adaptive_staleness": mode == "async",
                         "adaptive_multiplier": 20.0, "buffer_size": None},
                "compression": {"codec": codec, "error_feedback": True, "downlink": "none"},
                "aggregation": {"rule": "mean" if mode == "sync" else "krum", "f": 0 if mode == "sync" else 1}},
        kind=kind, model="gpt2-tiny" if kind == "causal" else "bert-tiny", num_params=num_params, num_workers=n,
        worker_names=[f"{r}-{i}" for i, r in enumerate(regions)], worker_regions=regions,
        byzantine_ids=sorted(byzantine), server_steps=curve[-1][0], virtual_time=vt, wall_time=12.5,
        stopped_by=stopped_by, curve=points, final=dict(points[-1]), summary=summary,
        utilization=utilization if utilization is not None else [s.compute_time / vt if vt else 0.0 for s in stats],
        wall_breakdown={"compute": 10.0},
    )


def baseline_run() -> RunResult:
    """Synchronous, uncompressed, 4 identical workers: 4000 B up and 4000 B down per worker per step."""
    workers = [{"submitted": 10, "accepted": 10, "staleness": {0: 10}, "bytes_up": 40_000, "bytes_down": 40_000,
                "aggregations": 10, "trust_sum": 10.0, "compute_time": 900.0} for _ in range(4)]
    curve = [(0, 0, 0.0, 0, 0, 5.0), (5, 160, 1800.0, 80_000, 80_000, 4.0), (10, 320, 3600.0, 160_000, 160_000, 3.0)]
    return build_run("baseline", curve, workers, mode="sync", codec="none")


def experimental_run() -> RunResult:
    """Async, compressed 20x up and 2x down, 4 workers, worker 3 Byzantine, two regions."""
    workers = [
        {"submitted": 20, "accepted": 18, "rejected": {"stale": 2}, "staleness": {0: 5, 1: 10, 2: 3, 7: 2},
         "bytes_up": 2_000, "bytes_down": 20_000, "aggregations": 18, "trust_sum": 18.0, "compute_time": 1800.0},
        {"submitted": 10, "accepted": 9, "rejected": {"stale": 1}, "staleness": {1: 4, 2: 5, 9: 1},
         "bytes_up": 2_000, "bytes_down": 20_000, "aggregations": 9, "filtered": 1, "trust_sum": 8.0,
         "compute_time": 1600.0},
        {"submitted": 5, "accepted": 1, "rejected": {"stale": 4}, "staleness": {3: 1, 12: 4},
         "bytes_up": 2_000, "bytes_down": 20_000, "aggregations": 1, "trust_sum": 1.0, "compute_time": 700.0},
        {"submitted": 5, "accepted": 5, "staleness": {0: 5}, "bytes_up": 2_000, "bytes_down": 20_000,
         "aggregations": 5, "filtered": 4, "trust_sum": 1.0, "compute_time": 1000.0},
    ]
    # loss 5.0 -> 4.4 at 200 samples -> 3.2 at 400 -> 3.05 at 480
    curve = [(0, 0, 0.0, 0, 0, 5.0), (10, 200, 1200.0, 4_000, 40_000, 4.4), (20, 400, 2400.0, 6_000, 60_000, 3.2),
             (24, 480, 3600.0, 8_000, 80_000, 3.05)]
    return build_run("experimental", curve, workers, regions=["us", "us", "edge", "us"], byzantine=(3,))


@pytest.fixture
def baseline() -> RunResult:
    return baseline_run()


@pytest.fixture
def experimental() -> RunResult:
    return experimental_run()


@pytest.fixture
def run_builder():
    """build_run, for tests that need a run of their own shape."""
    return build_run
