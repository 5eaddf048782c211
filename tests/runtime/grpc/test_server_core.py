"""ServerCore's run state at its edges: a resume at the end of training, and a checkpoint that
cannot be written stopping the run instead of training on unsaved."""

from __future__ import annotations

import torch

from dist_llm_train.checkpoint import CheckpointManager
from dist_llm_train.compression import decode_bytes
from dist_llm_train.config.schema import OptimizerConfig
from dist_llm_train.layout import ParamLayout
from dist_llm_train.runtime.grpc import ps_pb2 as pb
from dist_llm_train.runtime.grpc.server_core import ServerCore
from dist_llm_train.sync import BoundedAsyncCoordinator, ParameterServer


def make_core(version=0, max_server_steps=100, **kw):
    layout = ParamLayout([("w", (1000,))])
    ps = ParameterServer(initial_params=torch.zeros(1000), layout=layout, coordinator=BoundedAsyncCoordinator(1),
                         optimizer=OptimizerConfig(name="adamw", lr=0.1))
    ps.version = version
    return ServerCore(ps, lambda b, out=None: decode_bytes(b, expected_numel=1000, out=out), num_workers=1,
                      max_server_steps=max_server_steps, **kw)


def push(core, value=1.0):
    h = pb.PushHeader(worker_id=0, base_version=core.server.version, n_samples=1, total_bytes=4000)
    return core.push(0, h, torch.full((1000,), value), 4000)


def test_a_core_resumed_at_max_server_steps_is_done_at_once():
    core = make_core(version=10, max_server_steps=10)
    assert core.state == pb.DONE and "finished at version 10" in core.message
    core.register(0, "host")
    reply = push(core)
    assert not reply.accepted and reply.reason == "finished" and core.server.version == 10



def test_a_checkpoint_that_cannot_be_written_stops_the_run(tmp_path, file_size_limit):
    events = []
    core = make_core(checkpoints=CheckpointManager(tmp_path, keep=2), checkpoint_every_steps=1,
                     on_event=events.append)
    core.register(0, "host")
    push(core)
    core._ckpt_thread.join(30)
    assert core.failure is None and core.saved_version == 1
    with file_size_limit(512):
        push(core)
        core._ckpt_thread.join(30)
    assert core.failure is not None and "version 2 could not be written" in core.failure
    assert "step-000000001-" in core.failure, "the message names the last good checkpoint"
    assert [e["event"] for e in events].count("checkpoint_failed") == 1
    assert not list(tmp_path.glob(".tmp-*")), "a partial checkpoint was left"
    core.finish()  # no second attempt: the last good checkpoint stays the newest
    assert [p.name.split("-")[1] for p in core.checkpoints.list()] == ["000000001"]
    assert core.status()["failure"] == core.failure
