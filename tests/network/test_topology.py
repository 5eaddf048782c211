"""Topologies from presets and YAML: the multi-region numbers, `workers: N`, hardware profiles."""

from __future__ import annotations

import pytest

from dist_llm_train.config import load_config
from dist_llm_train.errors import ConfigError
from dist_llm_train.network import HARDWARE_PROFILES, build_topology


def _topology(network: dict, overrides: list[str] | None = None):
    return build_topology(load_config({"network": network}, overrides).network)


def test_multi_region_preset_numbers():
    topo = _topology({"preset": "multi-region"})
    got = {lk.region: (lk.bandwidth_up, lk.bandwidth_down, lk.latency_ms) for lk in topo.links}
    assert got == {
        "us-east": (1000.0, 1000.0, 50.0),
        "eu-west": (500.0, 500.0, 150.0),
        "asia-pacific": (100.0, 100.0, 300.0),
        "edge-device": (10.0, 10.0, 500.0),
    }


def test_workers_n_spreads_round_robin_over_regions():
    topo = _topology({"preset": "multi-region"}, ["workers=10"])  # the CLI's `--set workers=10`
    assert len(topo) == 10
    regions = [lk.region for lk in topo.links]
    assert regions[:4] == ["us-east", "eu-west", "asia-pacific", "edge-device"]
    assert {r: regions.count(r) for r in set(regions)} == {"us-east": 3, "eu-west": 3, "asia-pacific": 2,
                                                           "edge-device": 2}
    assert len({lk.name for lk in topo.links}) == 10  # names stay unique (us-east-0, us-east-1, ...)


def test_lan_preset():
    lk = _topology({"preset": "lan", "num_workers": 2})[1]
    assert (lk.bandwidth_up, lk.latency_ms) == (10000.0, 0.1)


def test_custom_links_with_counts_asymmetry_and_hardware():
    topo = _topology({"preset": "custom", "workers": [
        {"name": "dc", "bandwidth_up": 50, "bandwidth_down": 200, "latency": 10, "jitter": 2, "loss": 0.01,
         "hardware": "a100", "count": 2},
        {"name": "home", "bandwidth": 20, "latency": 40, "speed": 0.25},
    ]})
    assert [lk.name for lk in topo.links] == ["dc-0", "dc-1", "home"]
    dc, home = topo[0], topo[2]
    assert (dc.bandwidth_up, dc.bandwidth_down, dc.jitter_ms, dc.loss) == (50, 200, 2, 0.01)
    assert dc.flops == HARDWARE_PROFILES["a100"]
    assert home.speed == pytest.approx(0.25)
    assert topo.regions == ["dc", "home"]


def test_unknown_hardware_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown hardware profile 'tpu'"):
        _topology({"preset": "custom", "workers": [{"name": "x", "bandwidth": 1, "hardware": "tpu"}]})
