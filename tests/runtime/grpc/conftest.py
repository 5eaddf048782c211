"""A real parameter-server service on a loopback port, around a small real model's parameters."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from dist_llm_train.aggregation import make_aggregator
from dist_llm_train.compression import make_codec
from dist_llm_train.config.schema import OptimizerConfig
from dist_llm_train.layout import ParamLayout
from dist_llm_train.runtime.grpc.assembly import (
    layout_sha256,
    make_decoder,
    make_sparse_decoder,
    make_stream_decoder,
)
from dist_llm_train.runtime.grpc.auth import Authenticator
from dist_llm_train.runtime.grpc.client import WorkerClient
from dist_llm_train.runtime.grpc.membership import LivenessPolicy
from dist_llm_train.runtime.grpc.server_core import ServerCore
from dist_llm_train.runtime.grpc.service import ParameterServerService, start_server
from dist_llm_train.runtime.grpc.tokens import TokenStore
from dist_llm_train.sync import BoundedAsyncCoordinator, ParameterServer
from dist_llm_train.sync.downlink import DownlinkMirror


@dataclass
class LiveServer:
    core: ServerCore
    server: object
    port: int
    tokens: dict[int, str]
    layout: ParamLayout
    service: ParameterServerService

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self, worker_id: int, token: str | None = None, credentials=None, **kw) -> WorkerClient:
        tok = self.tokens[worker_id] if token is None else token
        return WorkerClient(self.target, worker_id, tok, credentials, **kw)


def small_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(32, 48), torch.nn.Tanh(), torch.nn.Linear(48, 8))


@pytest.fixture
def live_server(tmp_path):
    started = []

    def start(num_workers: int = 3, downlink: str | None = None, credentials=None, push_rate: float = 0.0,
              policy: LivenessPolicy | None = None, max_server_steps: int = 10_000, min_workers: int | None = 1,
              checkpoints=None, token_ids=None, uplink: str = "none", chunk_bytes: int = 4096, stream: bool = True,
              limiter=None, rates=None, max_threads: int | None = None, numel: int | None = None,
              **coord_kw) -> LiveServer:
        if numel is None:
            model = small_model()
            layout = ParamLayout.from_module(model)
            initial = layout.flatten_module(model)
        else:  # one flat tensor of this size: payloads larger than gRPC's flow-control windows
            layout = ParamLayout([("w", (numel,))])
            initial = torch.zeros(numel)
        coord = BoundedAsyncCoordinator(num_workers=num_workers, aggregator=make_aggregator("mean", f=0), **coord_kw)
        ps = ParameterServer(initial_params=initial, layout=layout, optimizer=OptimizerConfig(name="sgd", lr=0.1),
                             coordinator=coord)
        dl = DownlinkMirror(make_codec(downlink, layout=layout)) if downlink else None
        core = ServerCore(ps, make_decoder(layout), decode_sparse=make_sparse_decoder(layout),
                          decode_stream=make_stream_decoder(layout) if stream else None,
                          num_workers=num_workers, max_server_steps=max_server_steps, min_workers=min_workers,
                          downlink=dl, push_rate=push_rate, policy=policy, checkpoints=checkpoints)
        store = TokenStore(path=tmp_path / "tokens.json")
        tokens = {w: store.issue(w) for w in (token_ids if token_ids is not None else range(num_workers))}
        store.save()
        service = ParameterServerService(core, Authenticator(store), run_config_json="{}",
                                         layout_sha256=layout_sha256(layout),
                                         uplink_codec=make_codec(uplink, layout=layout).spec,
                                         downlink_codec=dl.codec.spec if dl else "", chunk_bytes=chunk_bytes,
                                         limiter=limiter, rates=rates)
        server, port = start_server(service, "127.0.0.1", 0, credentials, max_threads=max_threads)
        started.append((server, service))
        return LiveServer(core, server, port, tokens, layout, service)

    yield start
    for server, service in started:
        server.stop(grace=None)
        service.close()
