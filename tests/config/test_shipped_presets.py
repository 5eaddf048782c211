"""Every shipped preset loads and means what its comments say; the smallest one really trains."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dist_llm_train.config import PRESET_DIR, load_config
from dist_llm_train.config.cross_checks import buffer_size, num_workers
from dist_llm_train.network import build_topology

SHIPPED = ["byzantine", "diloco", "lan", "multi-region", "quick"]
SRC = Path(__file__).resolve().parents[2] / "src"


def test_the_promised_presets_are_shipped():
    assert sorted(p.stem for p in PRESET_DIR.glob("*.yaml")) == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_preset_loads_by_name(name):
    cfg = load_config(name)
    assert cfg.name == name
    assert load_config(cfg.model_dump(mode="json")) == cfg  # the resolved form reloads unchanged


def test_quick_is_small():
    cfg = load_config("quick")
    assert cfg.model.name == "gpt2-tiny" and num_workers(cfg) <= 4 and cfg.max_server_steps <= 100


def test_multi_region_is_the_guide_topology():
    cfg = load_config("multi-region")
    topo = build_topology(cfg.network)
    assert len(topo) == 16
    regions = {lk.region: (lk.bandwidth_up, lk.latency_ms) for lk in topo.links}
    assert regions == {"us-east": (1000.0, 50.0), "eu-west": (500.0, 150.0), "asia-pacific": (100.0, 300.0),
                       "edge-device": (10.0, 500.0)}
    assert cfg.sync.adaptive_staleness and cfg.sync.max_staleness == 200
    assert cfg.compression.codec.startswith("topk:") and cfg.aggregation.rule == "bulyan"
    assert buffer_size(cfg) >= 4 * cfg.aggregation.f + 3


def test_diloco_uses_local_steps_and_nesterov():
    cfg = load_config("diloco")
    assert cfg.worker.local_steps > 1 and cfg.optimizer.name == "nesterov"
    assert cfg.compression.codec.startswith("topk:") and cfg.compression.error_feedback


def test_byzantine_has_attackers_and_a_krum_rule():
    cfg = load_config("byzantine")
    assert cfg.aggregation.rule in ("krum", "multikrum") and cfg.byzantine.count >= 1
    assert cfg.aggregation.f >= cfg.byzantine.count


def test_train_quick_preset_through_the_cli(tmp_path):
    out = tmp_path / "run"
    r = subprocess.run(
        [sys.executable, "-m", "dist_llm_train", "train", "quick", "--set", "steps=2", "--set", "data.seq_len=32",
         "--set", "data.batch_size=2", "--set", "eval.max_eval_tokens=256", "--set", "runtime.sim_threads=1",
         "--out", str(out)],
        capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(SRC)})
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["server_steps"] == 2 and summary["model"] == "gpt2-tiny"
    assert summary["curve"] and all(p["loss"] > 0 for p in summary["curve"])
