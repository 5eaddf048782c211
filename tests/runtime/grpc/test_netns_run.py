"""The shaped run: real serve/worker processes in namespaces behind tbf + relay links, then the simulator.

The fast tests check the pieces that need no namespaces; the slow one runs the whole benchmark
on two links and asserts what the shaping must make true (a full pull cannot beat its link's rate,
every call pays a round trip), that the server saw exactly the bytes the workers pulled, and that
nothing is left behind. It skips, with the reason, where namespaces cannot be made.
"""

from __future__ import annotations

import pytest

from dist_llm_train.config import load_config
from dist_llm_train.network.netns import list_namespaces, unavailable_reason
from dist_llm_train.runtime.grpc.netns_benchmark import _summarise, bench_config, regions, shaped_run


def test_the_default_topology_is_the_multi_region_preset_and_scales_bandwidth_only():
    topo = regions(0.5)
    assert [(r["name"], r["bandwidth"], r["latency"]) for r in topo] == [
        ("us-east", 500.0, 50.0), ("eu-west", 250.0, 150.0), ("asia-pacific", 50.0, 300.0), ("edge-device", 5.0, 500.0)]
    cfg = load_config(bench_config(10, topo, speed=0.01, kind="sim"))
    assert [w.speed for w in cfg.network.workers] == [0.01] * 4
    assert cfg.runtime.torch_threads == 1 and cfg.max_server_steps == 10
    with pytest.raises(ValueError, match="bandwidth-scale"):
        regions(0)
    with pytest.raises(ValueError, match="steps"):
        bench_config(0, topo)


def test_rounds_are_summarised_with_the_full_pull_apart():
    rounds = [{"down_s": 5.0, "compute_s": 1.0, "up_s": 0.5, "bytes_down": 1000, "bytes_up": 10, "full": True},
              {"down_s": 1.0, "compute_s": 2.0, "up_s": 0.5, "bytes_down": 20, "bytes_up": 10, "full": False},
              {"down_s": 3.0, "compute_s": 3.0, "up_s": 1.5, "bytes_down": 40, "bytes_up": 30, "full": False}]
    s = _summarise(rounds, accepted=2)
    assert s["rounds"] == 3 and s["accepted"] == 2
    assert s["first_down_s"] == 5.0 and s["first_bytes_down"] == 1000
    assert s["down_s"] == 2.0 and s["mean_bytes_down"] == 30  # the delta pulls only
    assert s["compute_s"] == 2.0 and s["up_s"] == pytest.approx(2.5 / 3)
    assert s["round_s"] == pytest.approx((3.5 + 7.5) / 2)
    assert s["bytes_down"] == 1060 and s["bytes_up"] == 50
    assert _summarise([], accepted=0)["round_s"] is None


REASON = unavailable_reason()


@pytest.mark.slow
@pytest.mark.skipif(REASON is not None, reason=f"network namespaces unavailable: {REASON}")
def test_real_workers_behind_shaped_links_pay_the_links_and_the_simulator_predicts_the_same_topology(tmp_path):
    topo = [{"name": "near", "bandwidth": 200.0, "latency": 20.0}, {"name": "far", "bandwidth": 50.0, "latency": 100.0}]
    before = set(list_namespaces())
    results = shaped_run(topo, steps=8, out=tmp_path, timeout=400, log=lambda *_: None)
    assert set(list_namespaces()) <= before, "namespaces left behind"
    for link, region in zip(results["links"], topo, strict=True):
        assert link["rtt_ms"] >= 2 * region["latency"]
        assert 0.85 * region["bandwidth"] <= link["down_mbps"] <= 1.02 * region["bandwidth"]
    real, sim = results["real"], results["sim"]
    assert real["server_steps"] == sim["server_steps"] == 8
    for w, region in enumerate(topo):
        r = real["workers"][w]
        lat, rate = region["latency"] / 1000, region["bandwidth"] * 1e6 / 8
        assert r["rounds"] >= 1, (region, r)
        # the full fp32 pull cannot beat the shaped rate, and a request + reply pays the latency twice
        assert r["first_down_s"] >= 2 * lat + r["first_bytes_down"] / rate, (region, r)
        assert r["up_s"] >= 2 * lat, (region, r)
        assert r["bytes_down"] == r["server_bytes_down"], "the server counted other bytes than the worker pulled"
        s = sim["workers"][w]
        if s["rounds"]:  # the simulator's own link model: one latency plus bytes over the rate
            assert s["first_down_s"] == pytest.approx(lat + s["first_bytes_down"] * 8 / (region["bandwidth"] * 1e6))
