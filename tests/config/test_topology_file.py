"""`network.topology: PATH`: the validation guide's `workers:` YAML read into network.workers."""

from __future__ import annotations

import pytest

from dist_llm_train.config import ConfigError, load_config
from dist_llm_train.config.cross_checks import num_workers
from dist_llm_train.network import build_topology

GUIDE = """workers:
  - name: us-east
    bandwidth: 1000  # Mbps
    latency: 50      # ms
  - {name: edge-device, bandwidth: 10, latency: 500, jitter: 50, loss: 0.01, speed: 0.2, count: 3}
"""


def test_file_becomes_the_workers(tmp_path):
    f = tmp_path / "wan.yaml"
    f.write_text(GUIDE)
    cfg = load_config(overrides={"network.topology": str(f)})
    assert cfg.network.preset == "custom" and cfg.network.topology is None
    assert [w.name for w in cfg.network.workers] == ["us-east", "edge-device"]
    topo = build_topology(cfg.network)
    assert len(topo) == 4 and num_workers(cfg) == 4
    edge = topo[3]
    assert (edge.region, edge.bandwidth_up, edge.latency_ms, edge.jitter_ms, edge.loss) == (
        "edge-device", 10.0, 500.0, 50.0, 0.01)
    # the resolved config is self-contained: it reloads without the file
    f.unlink()
    assert load_config(cfg.model_dump(mode="json")) == cfg


def test_relative_path_is_read_next_to_the_config_file(tmp_path, monkeypatch):
    (tmp_path / "topo").mkdir()
    (tmp_path / "topo" / "wan.yaml").write_text(GUIDE)
    run = tmp_path / "run.yaml"
    run.write_text("network: {topology: topo/wan.yaml}\n")
    monkeypatch.chdir("/")
    assert len(build_topology(load_config(run).network)) == 4


def test_shipped_multi_region_topology_by_name():
    cfg = load_config(overrides={"network.topology": "multi-region"})
    topo = build_topology(cfg.network)
    assert len(topo) == 16 and topo.regions == ["asia-pacific", "edge-device", "eu-west", "us-east"]
    by_region = {lk.region: lk for lk in topo.links}
    assert (by_region["us-east"].bandwidth_up, by_region["us-east"].latency_ms) == (1000.0, 50.0)
    assert (by_region["eu-west"].bandwidth_up, by_region["eu-west"].latency_ms) == (500.0, 150.0)
    assert (by_region["asia-pacific"].bandwidth_up, by_region["asia-pacific"].latency_ms) == (100.0, 300.0)
    assert (by_region["edge-device"].bandwidth_up, by_region["edge-device"].latency_ms) == (10.0, 500.0)


def test_missing_file_names_the_key_and_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"network.topology: file 'nowhere.yaml' not found") as info:
        load_config(overrides={"network.topology": "nowhere.yaml"})
    assert "multi-region" in str(info.value)  # the shipped ones are listed


@pytest.mark.parametrize("text, needle", [
    ("workers: [{name: a, bandwidth: 10}\n", "not valid YAML"),
    ("- {name: a, bandwidth: 10}\n", "must be a mapping with a non-empty list `workers"),
    ("workers: []\n", "non-empty list"),
    ("workers: [{name: a, bandwith: 10}]\n", "workers.0.bandwith: Extra inputs are not permitted"),
    ("workers: [{name: a, bandwidth: -5}]\n", "workers.0.bandwidth"),
    ("links: [{name: a, bandwidth: 5}]\n", "`workers"),
])
def test_malformed_file_is_one_clear_error(tmp_path, text, needle):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(overrides={"network.topology": str(f)})
    msg = str(info.value)
    assert "network.topology" in msg and str(f) in msg and needle in msg


def test_file_and_inline_workers_together_are_refused(tmp_path):
    f = tmp_path / "wan.yaml"
    f.write_text(GUIDE)
    with pytest.raises(ConfigError, match="both network.topology"):
        load_config({"network": {"topology": str(f), "workers": [{"name": "x", "bandwidth": 1}]}})
    with pytest.raises(ConfigError, match="replaces the preset"):
        load_config({"network": {"topology": str(f), "preset": "multi-region"}})
