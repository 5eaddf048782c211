"""The server core counts the compute seconds each worker reports with its push."""

import torch

from dist_llm_train.compression import decode_bytes
from dist_llm_train.config.schema import OptimizerConfig
from dist_llm_train.layout import ParamLayout
from dist_llm_train.runtime.grpc import ps_pb2 as pb
from dist_llm_train.runtime.grpc.server_core import ServerCore
from dist_llm_train.sync import BoundedAsyncCoordinator, ParameterServer


def test_reported_compute_seconds_reach_the_summary():
    layout = ParamLayout([("w", (10,))])
    coord = BoundedAsyncCoordinator(num_workers=2, max_staleness=100, buffer_size=1)
    ps = ParameterServer(initial_params=torch.zeros(10), layout=layout, optimizer=OptimizerConfig(name="sgd", lr=1.0),
                         coordinator=coord)
    core = ServerCore(ps, lambda b: decode_bytes(b, expected_numel=10), num_workers=2, max_server_steps=100,
                      clock=lambda: 1000.0)
    for w in (0, 1):
        core.register(w, "test")
    for seconds in (0.25, 0.5):
        h = pb.PushHeader(worker_id=0, base_version=ps.version, n_samples=1, total_bytes=40, compute_seconds=seconds)
        core.push(0, h, torch.ones(10), 40)
    h = pb.PushHeader(worker_id=1, base_version=ps.version, n_samples=1, total_bytes=40, compute_seconds=-3.0)
    core.push(1, h, torch.ones(10), 40)  # a nonsensical report is not counted
    workers = core.status()["workers"]
    assert workers[0]["compute_time"] == 0.75
    assert workers[1]["compute_time"] == 0.0
