"""Simulator fidelity: per-worker compute time, a server busy while it aggregates, the real bytes of
an omniscient attacker, and refusal of a codec other than the configured one."""

from __future__ import annotations

import json

import pytest
import torch

from dist_llm_train.compression import make_codec, make_decoder
from dist_llm_train.config import load_config
from dist_llm_train.controller.assembly import build_core, build_worker
from dist_llm_train.controller.data_setup import build_run_data
from dist_llm_train.controller.main_controller import MainController
from dist_llm_train.errors import DecodeError
from dist_llm_train.metrics import read_events
from dist_llm_train.models import build_model
from dist_llm_train.runtime.sim.simulator import SimOptions, Simulator

TINY = {
    "model": {"name": "gpt2-tiny"},
    "data": {"corpus": "wiki", "seq_len": 16, "batch_size": 2},
    "eval": {"every_steps": 1000, "max_eval_tokens": 128},
    "optimizer": {"name": "sgd", "lr": 0.1},
    "runtime": {"sim_threads": 1},
}


def _cfg(**sections) -> dict:
    out = json.loads(json.dumps(TINY))
    out.update(sections)
    return out


def _simulator(cfg_dict: dict, encoders: dict | None = None):
    """The simulator as MainController builds it (same core, workers and decoder), without a run dir."""
    cfg = load_config(cfg_dict)
    torch.manual_seed(cfg.seed)
    built = build_model(cfg.model.name, seed=cfg.seed)
    layout = built.layout
    core = build_core(cfg, layout, layout.flatten_module(built.module))
    n = len(core.topology)
    data = build_run_data(cfg, built, n)
    workers = [build_worker(cfg, w, built.module, layout, data.streams[w].next_batch, w in core.byzantine,
                            vocab_size=built.vocab_size, n=n) for w in range(n)]
    for w, enc in (encoders or {}).items():
        workers[w].encoder = enc
    opts = SimOptions(max_server_steps=cfg.max_server_steps, eval_every=0, flops_per_token=6.0 * layout.numel)
    sim = Simulator(core.server, workers, core.topology, decode=make_decoder(layout, cfg.compression.codec),
                    options=opts)
    return sim, core, layout


def test_worker_compute_time_is_reported(tmp_path):
    fast = {"name": "fast", "bandwidth": 1000, "latency": 1, "speed": 1.0}
    slow = {"name": "slow", "bandwidth": 1000, "latency": 1, "speed": 0.25}
    r = MainController(_cfg(max_server_steps=4, network={"preset": "custom", "workers": [fast, slow]}),
                       run_dir=tmp_path, save_weights=False).run()
    events = read_events(tmp_path / "events.jsonl")
    for w in (0, 1):
        reported = r.summary["workers"][w]["compute_time"]
        from_log = sum(e["t_compute"] for e in events if e["event"] == "pull" and e["worker"] == w)
        assert reported > 0
        assert reported == pytest.approx(from_log, abs=1e-8)  # the log rounds to 1e-9 s
        assert reported == pytest.approx(r.utilization[w] * r.virtual_time, rel=1e-9)
    per_round = [r.summary["workers"][w]["compute_time"] / sum(
        1 for e in events if e["event"] == "pull" and e["worker"] == w) for w in (0, 1)]
    assert per_round[1] == pytest.approx(4 * per_round[0])  # a quarter of the speed, four times the time


def test_arrivals_wait_while_the_server_aggregates(tmp_path):
    # two identical workers arrive at the same instant; K = 1, so the first one's step occupies the
    # server for t_agg and the second is admitted only when it is free
    link = {"name": "w", "bandwidth": 1000, "latency": 5, "count": 2}
    MainController(_cfg(max_server_steps=4, network={"preset": "custom", "workers": [link]},
                        sync={"mode": "async", "buffer_size": 1, "max_staleness": 10}),
                   run_dir=tmp_path, save_weights=False).run()
    events = read_events(tmp_path / "events.jsonl")
    steps = [e for e in events if e["event"] == "step"]
    pushes = [e for e in events if e["event"] == "push"]
    assert steps[0]["t_agg"] > 0
    first, second = pushes[0], pushes[1]
    assert second["t"] == pytest.approx(first["t"] + steps[0]["t_agg"], abs=1e-8)
    busy = [(s["t"], s["t"] + s["t_agg"]) for s in steps]
    for e in events:
        if e["event"] in ("push", "pull"):
            assert not any(a + 1e-9 < e["t"] < b - 1e-9 for a, b in busy), e


def test_omniscient_attacker_bytes_are_those_it_sends():
    cfg = _cfg(max_server_steps=2, network={"num_workers": 5},
               sync={"mode": "async", "buffer_size": 5, "max_staleness": 10},
               compression={"codec": "topk:0.05", "error_feedback": True},
               aggregation={"rule": "multikrum", "f": 1}, byzantine={"count": 1, "attack": "alie"})
    sim, core, layout = _simulator(cfg)
    (bad,) = core.byzantine
    crafted = make_codec("topk:0.05", layout=layout)
    sent: list[int] = []
    honest_seen: list[int] = []
    install = core.coordinator.pre_aggregate
    stats = core.coordinator.stats[bad]

    def recording(rows, ids):
        honest_seen.append(stats.bytes_up)
        out = install(rows, ids)
        # the crafted row is top-k sparse already: re-encoding it gives the message's exact bytes
        sent.append(crafted.encode(rows[ids.index(bad)]).wire_bytes)
        return out

    core.coordinator.pre_aggregate = recording
    sim.run()
    assert stats.rejected == {} and stats.accepted == len(sent) == 2
    assert stats.bytes_up == sum(sent)
    assert honest_seen[0] != sent[0]  # the honest message had another size: the fix matters here


def test_a_worker_using_another_codec_is_refused():
    cfg = _cfg(max_server_steps=2, network={"num_workers": 2}, compression={"codec": "topk:0.05"})
    sim, _, layout = _simulator(cfg, encoders={1: make_codec("none")})
    with pytest.raises(DecodeError, match="'none'.*compression.codec is 'topk:0.05'"):
        sim.run()
