"""Checkpoints: exact round trip of server, optimizer, coordinator and RNG; keep-K; damaged ones skipped."""

import json

import pytest
import torch

from dist_llm_train.aggregation import make_aggregator
from dist_llm_train.checkpoint import CheckpointManager
from dist_llm_train.config.schema import OptimizerConfig
from dist_llm_train.errors import CheckpointError, ConfigError, ResourceNotFoundError
from dist_llm_train.layout import ParamLayout
from dist_llm_train.sync import BoundedAsyncCoordinator, ParameterServer


def make_server(seed=0):
    torch.manual_seed(seed)
    state = {"a.weight": torch.randn(16, 8), "a.bias": torch.randn(8)}
    coord = BoundedAsyncCoordinator(num_workers=3, max_staleness=4, aggregator=make_aggregator("mean", f=0))
    ps = ParameterServer(initial_params=ParamLayout.from_state_dict(state).flatten(state),
                         layout=ParamLayout.from_state_dict(state), optimizer=OptimizerConfig(name="adamw", lr=0.01),
                         coordinator=coord)
    return ps, coord


def train(ps, steps, start=0):
    for i in range(start, start + steps):
        ps.submit(torch.randn(ps.numel), ps.version, worker_id=i % 3, n_samples=2, now=float(i))


def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path):
    ps, coord = make_server()
    train(ps, 5)
    mgr = CheckpointManager(tmp_path, keep=2)
    mgr.save(ps, coord, extra={"note": "five"})
    torch.manual_seed(42)
    train(ps, 4, start=5)  # the uninterrupted run

    ps2, coord2 = make_server(seed=1)
    state = mgr.load_into(ps2, coord2)
    assert state["extra"] == {"note": "five"} and ps2.version == 5
    torch.manual_seed(42)
    train(ps2, 4, start=5)
    assert ps2.version == ps.version == 9
    assert torch.equal(ps2.params, ps.params)
    assert torch.equal(ps2.optimizer.state["exp_avg_sq"], ps.optimizer.state["exp_avg_sq"])
    assert json.dumps(coord2.state_dict(), sort_keys=True) == json.dumps(coord.state_dict(), sort_keys=True)


def test_rng_states_are_part_of_the_checkpoint(tmp_path):
    import random

    import numpy as np

    ps, coord = make_server()
    mgr = CheckpointManager(tmp_path)
    torch.manual_seed(5)
    random.seed(6)
    np.random.seed(7)
    mgr.save(ps, coord)
    after_save = (torch.rand(4), random.random(), np.random.rand())
    torch.manual_seed(999)
    random.seed(999)
    np.random.seed(999)
    mgr.load_into(ps, coord)
    assert torch.equal(torch.rand(4), after_save[0])
    assert random.random() == after_save[1] and np.random.rand() == after_save[2]


def test_keeps_the_last_k_and_skips_a_damaged_newest(tmp_path, caplog):
    ps, coord = make_server()
    mgr = CheckpointManager(tmp_path, keep=2)
    paths = []
    for _ in range(3):
        train(ps, 1, start=ps.version)
        paths.append(mgr.save(ps, coord))
    assert mgr.list() == [paths[2], paths[1]] and not paths[0].exists()
    newest = paths[2] / "tensors.safetensors"
    blob = bytearray(newest.read_bytes())
    blob[-1] ^= 0xFF
    newest.write_bytes(bytes(blob))
    assert mgr.latest() == paths[1]
    assert "does not match its sha256" in caplog.text
    ps2, coord2 = make_server()
    assert mgr.load_into(ps2, coord2)["version"] == 2 and ps2.version == 2


def test_a_checkpoint_cut_short_by_a_crash_is_invisible(tmp_path):
    ps, coord = make_server()
    mgr = CheckpointManager(tmp_path)
    good = mgr.save(ps, coord)
    train(ps, 1)
    partial = tmp_path / ".tmp-step-000000001-0000000000001"
    partial.mkdir()
    (partial / "tensors.safetensors").write_bytes(b"half")
    no_manifest = tmp_path / "step-000000009-0000000000001"
    no_manifest.mkdir()
    (no_manifest / "tensors.safetensors").write_bytes(b"x")
    mgr2 = CheckpointManager(tmp_path)
    assert not partial.exists(), "temporary directories left by a crash are cleaned up"
    assert mgr2.latest() == good


def test_loading_from_an_empty_directory_says_what_to_do(tmp_path):
    ps, coord = make_server()
    with pytest.raises(ResourceNotFoundError, match="start without --resume"):
        CheckpointManager(tmp_path).load_into(ps, coord)


def test_a_checkpoint_of_another_model_is_refused(tmp_path):
    ps, coord = make_server()
    mgr = CheckpointManager(tmp_path)
    mgr.save(ps, coord)
    state = {"w": torch.zeros(3)}
    other = ParameterServer(initial_model_state=state)
    with pytest.raises(ValueError, match="belongs to another model"):
        mgr.load_into(other)



def test_a_failed_write_leaves_no_partial_directory_and_names_the_last_good_one(tmp_path, file_size_limit):
    ps, coord = make_server()
    train(ps, 2)
    mgr = CheckpointManager(tmp_path, keep=3)
    good = mgr.save(ps, coord)
    train(ps, 2, start=2)
    with file_size_limit(256), pytest.raises(CheckpointError) as info:
        mgr.save(ps, coord)
    message = str(info.value)
    assert f"version {ps.version} could not be written" in message and str(good) in message
    assert "--resume" in message
    assert [p.name for p in tmp_path.iterdir()] == [good.name], "a partial directory was left"
    assert mgr.latest() == good


def test_a_directory_that_cannot_be_written_is_refused_at_once(tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(ConfigError, match="cannot be written"):
        CheckpointManager(not_a_dir)
    with pytest.raises(ConfigError, match="cannot be written"):
        CheckpointManager(not_a_dir / "sub")


def test_a_state_with_nan_or_inf_is_never_checkpointed(tmp_path):
    ps, coord = make_server()
    train(ps, 2)
    mgr = CheckpointManager(tmp_path)
    ps.optimizer.state["exp_avg_sq"][3] = float("inf")
    with pytest.raises(CheckpointError, match="opt.exp_avg_sq hold NaN or inf"):
        mgr.save(ps, coord)
    assert mgr.list() == []
