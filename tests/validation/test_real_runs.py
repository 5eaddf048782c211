"""The whole report from two real simulated runs (a few server steps of gpt2-tiny on the wiki corpus):
every file written, and every checklist number equal to the one computed from the RunResults."""

import json
import math

import matplotlib.image as mpimg
import pytest

from dist_llm_train.config.schema import NetworkConfig
from dist_llm_train.controller.main_controller import MainController
from dist_llm_train.controller.run_result import RunResult
from dist_llm_train.network import build_topology
from dist_llm_train.validation.assemble import assemble_report
from dist_llm_train.validation.results import load_results

COMMON = {"seed": 0, "max_server_steps": 100, "max_samples": 40, "model": {"name": "gpt2-tiny"},
          "data": {"corpus": "wiki", "seq_len": 16, "batch_size": 2}, "optimizer": {"lr": 3e-3},
          "eval": {"every_steps": 1, "max_eval_tokens": 256}}
BASELINE = {**COMMON, "name": "baseline", "sync": {"mode": "sync"}, "network": {"preset": "lan", "num_workers": 5}}
EXPERIMENTAL = {**COMMON, "name": "experimental",
                "sync": {"mode": "async", "buffer_size": 3, "max_staleness": 4, "adaptive_staleness": True},
                "compression": {"codec": "topk:0.05"}, "aggregation": {"rule": "trimmed_mean", "f": 1},
                "byzantine": {"workers": [0], "attack": "sign_flip"},
                "network": {"preset": "custom", "workers": [
                    {"name": "dc", "count": 4, "bandwidth": 1000, "latency": 5},
                    {"name": "edge-device", "bandwidth": 1000, "latency": 100, "speed": 0.5}]}}
CHECKS = [
    {"item": "perplexity_within", "threshold": 0.10},
    {"item": "final_loss_within", "threshold": 0.10},
    {"item": "no_divergence"},
    {"item": "acceptance_above", "threshold": 0.80},
    {"item": "no_worker_starved"},
    {"item": "region_acceptance_above", "region": "edge-device", "threshold": 0.10},
    {"item": "uplink_reduction_above", "threshold": 10.0},
    {"item": "total_reduction_above", "threshold": 1.5},
    {"item": "byzantine_filtered", "threshold": 1.0, "max_false_positive_rate": 0.05},
    {"item": "steps_to_target_within", "threshold": 0.20},
    {"item": "time_to_target_within", "threshold": 0.20},
    {"item": "bytes_per_worker_hour_below", "threshold_gb": 10.0},
    {"item": "bytes_per_worker_hour_projected_below", "threshold_gb": 10.0, "params": 355_000_000},
]


class Suite:
    name = "gpt2"
    description = "two tiny simulated runs"
    checks = CHECKS


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    out = tmp_path_factory.mktemp("validate")
    runs = {label: MainController(cfg, run_dir=out / label, save_weights=False).run()
            for label, cfg in (("baseline", BASELINE), ("experimental", EXPERIMENTAL))}
    summary = assemble_report(Suite, "quick", out, runs, date="2025-11-19")
    return out, runs, summary


def test_files_exist_and_plots_are_images(validated):
    out, runs, summary = validated
    assert (out / "report.md").is_file() and (out / "results.json").is_file()
    assert len(summary["plots"]) == 5
    for path in summary["plots"].values():
        img = mpimg.imread(path)
        assert img.ndim == 3 and img.shape[0] > 200
    text = (out / "report.md").read_text()
    for p in summary["plots"].values():
        assert p.split("/")[-1] in text
    for label in runs:  # the run directories hold the RunResults the report was made from
        assert RunResult.load(out / label / "summary.json").final == json.loads(json.dumps(runs[label].final))


def test_checklist_numbers_are_the_runs_numbers(validated):
    out, runs, summary = validated
    b, e = runs["baseline"], runs["experimental"]
    data = load_results(out / "results.json")
    assert data["checklist"] == summary["checklist"]
    items = {c["name"]: c for c in data["checklist"]}
    assert len(items) == 14

    def item(prefix):
        (match,) = [c for name, c in items.items() if name.startswith(prefix)]
        return match

    assert item("Final perplexity")["measured"] == pytest.approx(e.final["perplexity"] / b.final["perplexity"] - 1)
    assert item("Final loss")["measured"] == pytest.approx(e.final["loss"] / b.final["loss"] - 1)
    assert item("No divergence")["measured"] == pytest.approx(e.final["loss"])
    assert item("No divergence")["threshold"] == pytest.approx(e.curve[0]["loss"])
    assert item("Gradient acceptance")["measured"] == pytest.approx(e.summary["accepted"] / e.summary["submitted"])
    honest = [w for w in e.summary["workers"] if not w["byzantine"]]
    assert item("No worker starved")["measured"] == pytest.approx(min(w["acceptance_rate"] for w in honest))
    edge = [w for w in e.summary["workers"] if e.worker_regions[w["worker_id"]] == "edge-device"]
    assert item("Workers in edge-device")["measured"] == pytest.approx(
        sum(w["accepted"] for w in edge) / sum(w["submitted"] for w in edge))
    assert item("Uplink")["measured"] == pytest.approx(b.bytes_up / e.bytes_up)
    total = (b.bytes_up + b.bytes_down) / (e.bytes_up + e.bytes_down)
    assert item("Total bandwidth")["measured"] == pytest.approx(total)
    flt = e.summary["filtering"]
    assert item("Byzantine workers filtered")["measured"] == pytest.approx(flt["detection_rate"])
    assert item("Honest false-positive")["measured"] == pytest.approx(flt["false_positive_rate"])
    rate = max(w["bytes_up"] + w["bytes_down"] for w in e.summary["workers"]) / 1e9 / (e.virtual_time / 3600)
    assert item("Bandwidth per worker <")["measured"] == pytest.approx(rate)
    # projected: bytes x s over at least the run's time and any worker's compute + serialization x s
    s = 355_000_000 / e.num_params
    links = build_topology(NetworkConfig.model_validate(e.config["network"]))
    busy = max(w["compute_time"] + (w["bytes_up"] * 8 / links[w["worker_id"]].bandwidth_up
                                    + w["bytes_down"] * 8 / links[w["worker_id"]].bandwidth_down) / 1e6
               for w in e.summary["workers"])
    t_proj = max(e.virtual_time, s * busy)
    assert item("Bandwidth per worker projected")["measured"] == pytest.approx(rate * s * e.virtual_time / t_proj)
    steps = item("Server steps to the target")
    assert steps["inputs"]["target_loss"] == pytest.approx(b.final["loss"] * 1.02)
    if steps["measured"] is not None:
        assert steps["measured"] == pytest.approx(steps["inputs"]["experimental"] / steps["inputs"]["baseline"] - 1)
    assert 0 < steps["inputs"]["baseline"] <= b.server_steps  # the baseline always reaches its own target


def test_run_facts_in_results(validated):
    out, runs, _ = validated
    data = load_results(out / "results.json")
    b, e = runs["baseline"], runs["experimental"]
    assert data["runs"]["baseline"]["acceptance_rate"] == 1.0  # synchronous, bound 0, nobody stale
    assert data["runs"]["experimental"]["byzantine_ids"] == e.byzantine_ids == [0]
    assert data["runs"]["experimental"]["samples_processed"] >= 40 <= data["runs"]["baseline"]["samples_processed"]
    assert data["comparison"]["uplink_reduction"] > 5  # top-k 5% of a dense fp32 update, same sample budget
    assert math.isfinite(data["runs"]["experimental"]["final_loss"])
    assert data["runs"]["baseline"]["final_loss"] < data["runs"]["baseline"]["initial_loss"]
    assert [w["worker_id"] for w in data["workers"]["experimental"]] == list(range(e.num_workers))
    assert data["runs"]["experimental"]["staleness"]["count"] == e.summary["submitted"] - sum(
        w["rejected"].get("future_version", 0) for w in e.summary["workers"])
    assert b.num_params == e.num_params
