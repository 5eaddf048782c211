"""How a run fails: before training (one config-style message) and during it (what was saved is kept)."""

from __future__ import annotations

import json

import pytest

from dist_llm_train.config import load_config
from dist_llm_train.controller.main_controller import MainController, as_build_error
from dist_llm_train.errors import ConfigError, ResourceNotFoundError

TINY = {
    "name": "tiny", "model": {"name": "gpt2-tiny"}, "data": {"corpus": "wiki", "seq_len": 32, "batch_size": 2},
    "eval": {"every_steps": 1, "max_eval_tokens": 256}, "network": {"num_workers": 2}, "max_server_steps": 4,
    "runtime": {"sim_threads": 1},
}


def test_a_plain_value_error_while_building_becomes_a_config_error():
    cfg = load_config(TINY)
    err = as_build_error(cfg, ValueError("buffer_size 9 exceeds num_workers 2"))
    assert isinstance(err, ConfigError)
    assert str(err) == "cannot build run 'tiny' from its configuration: buffer_size 9 exceeds num_workers 2"
    kept = ResourceNotFoundError("no weights")
    assert as_build_error(cfg, kept) is kept  # already a message for a person


def test_an_error_during_training_keeps_the_run_directory(tmp_path):
    class Stop(RuntimeError):
        pass

    seen = []

    def on_eval(point: dict) -> None:
        seen.append(point["step"])
        if point["step"] >= 2:
            raise Stop("stopped by the caller")

    with pytest.raises(Stop):
        MainController(TINY, run_dir=tmp_path, on_eval=on_eval, save_weights=False).run()
    assert seen[-1] == 2
    assert load_config(str(tmp_path / "config.yaml")) == load_config(TINY)
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert events and any(e.get("step", 0) >= 1 for e in events)
