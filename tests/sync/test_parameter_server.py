"""ParameterServer: the seed's constructor, pull(known_version) and submit."""

from __future__ import annotations

import pytest
import torch

from dist_llm_train.compression import make_codec
from dist_llm_train.config.schema import OptimizerConfig
from dist_llm_train.sync.downlink import DownlinkMirror
from dist_llm_train.sync.parameter_server import BoundedAsyncCoordinator, ParameterServer

STATE = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3), "b": torch.tensor([0.5, -0.5])}


def _server(**kw) -> ParameterServer:
    coord = BoundedAsyncCoordinator(num_workers=2, max_staleness=5, buffer_size=1)
    return ParameterServer(initial_model_state=STATE, optimizer=OptimizerConfig(name="sgd", lr=1.0),
                           coordinator=coord, **kw)


def test_seed_calls_work():
    ps = ParameterServer(initial_model_state=STATE)
    coordinator = BoundedAsyncCoordinator(num_workers=5, max_staleness=50, adaptive_staleness=True)
    assert ps.numel == 8 and coordinator.bound_for(0) >= 50
    pulled = ps.pull()
    assert pulled.version == 0 and pulled.kind == "full"
    assert torch.equal(ps.layout.unflatten(pulled.params)["w"], STATE["w"])


def test_pull_without_downlink_full_or_not_modified():
    ps = _server()
    assert ps.pull(None).kind == "full"
    assert ps.pull(0).kind == "not_modified"
    ps.submit(torch.ones(8), base_version=0, worker_id=0)
    assert ps.version == 1
    stale = ps.pull(0)  # no history of deltas without a mirror: the whole vector
    assert (stale.kind, stale.version) == ("full", 1)
    assert torch.equal(stale.params, ps.params)
    assert ps.pull(1).kind == "not_modified"


def test_pull_with_downlink_sends_the_delta_since_the_known_version():
    # prepare: an fp32 downlink, so that the worker's replica equals the server's vector exactly
    ps = _server(downlink=DownlinkMirror(make_codec("none")))
    first = ps.pull(None, worker_id=0)
    assert first.kind == "full"
    replica = first.params.clone()
    # execute: one server step, then the worker asks with the version it holds
    ps.submit(torch.ones(8), base_version=0, worker_id=1)
    reply = ps.pull(0, worker_id=0)
    # assert
    assert (reply.kind, reply.version) == ("delta", 1)
    delta = make_codec("none").decode(reply.encoded)
    assert torch.allclose(delta, -torch.ones(8))  # sgd lr 1 on a unit update
    assert torch.equal(replica + delta, ps.params)
    assert ps.pull(1, worker_id=0).kind == "not_modified"
    # a worker claiming a version its mirror is not at (it lost state) gets the full vector again
    ps.submit(torch.ones(8), base_version=1, worker_id=1)
    assert ps.pull(0, worker_id=0).kind == "full"
    assert ps.pull(2, worker_id=0).kind == "not_modified"


def test_lossy_downlink_replica_is_what_the_worker_holds():
    ps = _server(downlink=DownlinkMirror(make_codec("topk:0.25")))
    ps.pull(None, worker_id=0)
    ps.submit(torch.arange(8, dtype=torch.float32), base_version=0, worker_id=1)
    reply = ps.pull(0, worker_id=0)
    assert reply.kind == "delta"
    assert not torch.equal(reply.params, ps.params)  # top-k left part of the change behind
    assert torch.equal(ps.pull(1, worker_id=0).params, reply.params)  # not modified: same replica


def test_submit_steps_and_counts_compute_time():
    ps = _server()
    res = ps.submit(torch.ones(8), base_version=0, worker_id=0, compute_seconds=0.5, wire_bytes=40)
    assert res.flushed is not None and res.version == 1
    assert torch.allclose(ps.params, ps.layout.flatten(STATE) - 1.0)
    st = ps.coordinator.stats[0]
    assert (st.compute_time, st.bytes_up) == (0.5, 40)
    with pytest.raises(ValueError, match="elements"):
        ps.apply(torch.ones(3))
