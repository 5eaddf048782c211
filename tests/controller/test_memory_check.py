"""A simulated run whose workers cannot fit in memory is refused before training, with the sizes
and the ways out; one that fits goes on."""

import pytest

from dist_llm_train.config import load_config
from dist_llm_train.controller.main_controller import MainController
from dist_llm_train.controller.memory_check import (
    available_bytes,
    check_sim_memory,
    shared_vectors,
    simulated_workers_bytes,
    worker_vectors,
)
from dist_llm_train.errors import ConfigError


def _cfg(**kw):
    return load_config({"model": {"name": "gpt2-tiny"}, "network": {"preset": "lan", "num_workers": 5},
                        "aggregation": {"rule": "mean", "f": 0}, "byzantine": {"count": 0}, **kw})


def test_vectors_per_worker_follow_what_the_worker_allocates():
    plain = _cfg(compression={"codec": "none"})
    assert worker_vectors(plain, False) == 0 and shared_vectors(plain) == 1  # one gradient for all workers
    ef = _cfg(compression={"codec": "topk:0.01", "error_feedback": True})
    assert worker_vectors(ef, False) == 1 and worker_vectors(ef, True) == 0  # an attacker keeps no residual
    assert shared_vectors(ef) == 3
    diloco = _cfg(compression={"codec": "powersgd:4+fp16", "error_feedback": True}, worker={"local_steps": 4})
    assert worker_vectors(diloco, False) == 3 and shared_vectors(diloco) == 5
    assert simulated_workers_bytes(diloco, 1000, 5, [4]) == 4 * 1000 * (4 * 3 + 2 + 5)


def test_a_run_that_cannot_fit_is_refused_with_sizes_and_fixes():
    cfg = _cfg(compression={"codec": "powersgd:4+fp16", "error_feedback": True}, worker={"local_steps": 4})
    numel = 134_515_008  # smollm2-135m: 5 workers need 5 x 3 + 5 shared vectors of it, 10 GiB
    with pytest.raises(ConfigError) as err:
        check_sim_memory(cfg, numel, 5, [], available=8 * 2**30)
    msg = str(err.value)
    assert "at least 10.0 GiB for its 5 workers" in msg and "8.0 GiB is available" in msg
    assert "error-feedback residual" in msg and "network.num_workers" in msg and "runtime.kind: local" in msg
    check_sim_memory(cfg, numel, 5, [], available=11 * 2**30)  # enough: no error


def test_this_machine_reports_its_available_memory_and_a_small_run_passes():
    free = available_bytes()
    assert free is None or free > 0
    check_sim_memory(_cfg(), 1_000_000, 5, [])


def test_the_controller_refuses_before_any_training(tmp_path, monkeypatch):
    import dist_llm_train.controller.memory_check as mc

    monkeypatch.setattr(mc, "available_bytes", lambda: 1)  # a machine with no memory to spare
    ctl = MainController({"model": {"name": "gpt2-tiny"}, "network": {"preset": "lan", "num_workers": 2},
                          "aggregation": {"rule": "mean", "f": 0}, "byzantine": {"count": 0},
                          "max_server_steps": 2}, run_dir=tmp_path / "run")
    with pytest.raises(ConfigError, match="simulated run needs at least"):
        ctl.run()
    assert not (tmp_path / "run" / "events.jsonl").exists() or not (tmp_path / "run" / "events.jsonl").read_text()
