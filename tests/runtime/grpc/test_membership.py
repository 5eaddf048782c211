"""Fault tolerance in the server core: drops by derived deadlines, pause when the rule's precondition
fails, a sync round completed by a drop, re-admission on re-registration (clock under test control)."""

import grpc
import pytest
import torch

from dist_llm_train.aggregation import make_aggregator
from dist_llm_train.compression import decode_bytes
from dist_llm_train.config.schema import OptimizerConfig
from dist_llm_train.layout import ParamLayout
from dist_llm_train.runtime.grpc import ps_pb2 as pb
from dist_llm_train.runtime.grpc.membership import LivenessPolicy
from dist_llm_train.runtime.grpc.server_core import ServerCore
from dist_llm_train.runtime.grpc.validation import Rejected
from dist_llm_train.sync import BoundedAsyncCoordinator, ParameterServer

POLICY = LivenessPolicy(heartbeat_interval=1.0, misses=3.0, step_multiplier=4.0, floor_seconds=2.0,
                        startup_grace=30.0)


def make_core(rule="mean", f=0, mode="async", n=3, buffer_size=None):
    now = [1000.0]
    layout = ParamLayout([("w", (10,))])
    coord = BoundedAsyncCoordinator(num_workers=n, max_staleness=100, mode=mode, buffer_size=buffer_size,
                                    aggregator=make_aggregator(rule, f=f))
    ps = ParameterServer(initial_params=torch.zeros(10), layout=layout, optimizer=OptimizerConfig(name="sgd", lr=1.0),
                         coordinator=coord)
    core = ServerCore(ps, lambda b, out=None: decode_bytes(b, expected_numel=10, out=out), num_workers=n,
                      max_server_steps=1000, policy=POLICY, clock=lambda: now[0])
    for w in range(n):
        core.register(w, "test")
    return core, now


def push(core, w, value=1.0):
    h = pb.PushHeader(worker_id=w, base_version=core.server.version, n_samples=1, total_bytes=40)
    return core.push(w, h, torch.full((10,), value), 40)


def test_a_silent_worker_is_dropped_after_missed_heartbeats():
    core, now = make_core()
    now[0] += 2.5
    for w in (0, 1):
        core.heartbeat(w, "compute")
    core.tick()
    assert sorted(core.coord.active) == [0, 1, 2]
    now[0] += 1.0  # worker 2 silent for 3.5 s > 3 x 1 s
    core.heartbeat(0, "compute")
    core.heartbeat(1, "compute")
    core.tick()
    assert sorted(core.coord.active) == [0, 1]
    assert "no heartbeat" in core.membership.dropped[2]
    with pytest.raises(Rejected) as info:
        core.heartbeat(2, "compute")
    assert info.value.code == grpc.StatusCode.ABORTED, "a dropped worker is told to register again"
    core.register(2, "test")
    assert sorted(core.coord.active) == [0, 1, 2] and 2 not in core.membership.dropped


def test_progress_deadline_follows_the_workers_own_step_time():
    core, now = make_core()
    for _ in range(4):  # worker 0 pushes every 1 s: its EMA step interval is ~1 s
        now[0] += 1.0
        for w in range(3):
            core.heartbeat(w, "compute")
        push(core, 0)
    for _ in range(5):  # alive (heartbeats) but no update for 5 s > 4 x 1 s
        now[0] += 1.0
        for w in range(3):
            core.heartbeat(w, "compute")
        core.tick()
    assert 0 not in core.coord.active
    assert "4 x its step interval 1.00 s" in core.membership.dropped[0]
    assert {1, 2} <= core.coord.active, "workers that never pushed still have their start-up grace"


def test_losing_the_rules_precondition_pauses_training_until_a_worker_returns():
    core, now = make_core(rule="median", f=1, buffer_size=3)
    assert core.state == pb.RUNNING
    now[0] += 10
    core.heartbeat(0, "")
    core.heartbeat(1, "")
    core.tick()  # worker 2 dropped: median with f = 1 needs 3 inputs
    assert core.state == pb.PAUSED
    assert "training paused: 2 active workers" in core.message and "needs 3" in core.message
    with pytest.raises(Rejected) as info:
        push(core, 0)
    assert info.value.code == grpc.StatusCode.FAILED_PRECONDITION and "paused" in info.value.message
    core.register(2, "test")
    assert core.state == pb.RUNNING
    assert push(core, 0).accepted


def test_dropping_the_last_missing_worker_completes_a_sync_round():
    core, now = make_core(mode="sync")
    push(core, 0, 1.0)
    push(core, 1, 3.0)
    assert core.server.version == 0, "sync waits for every active worker"
    for w in (0, 1):  # both wait at the barrier for the next version
        assert core.pull(w, pb.PullRequest(worker_id=w, min_version=1, wait_seconds=0)).header.kind == pb.NOT_READY
    now[0] += 10
    core.heartbeat(0, "")
    core.heartbeat(1, "")
    core.tick()
    assert core.server.version == 1, "the round closes without the dead worker"
    assert torch.allclose(core.server.params, torch.full((10,), -2.0))
