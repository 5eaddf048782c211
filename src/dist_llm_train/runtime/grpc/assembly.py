"""Build the server's and a worker's parts of a gRPC run from one RunConfig.

The model, shards, codecs, aggregator and optimizer come from the controller's builders, so a run
means the same thing in the simulator and here. What is added is the runtime's own: the
ServerCore (membership, checkpoints, validation limits) and the facts a worker checks at
registration (the parameter layout's hash, the codec specs). The decoders are the compression
registry's (`make_decoder`, `make_sparse_decoder`, `make_stream_decoder`), re-exported here for the
runtime's callers.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import torch

from dist_llm_train.compression.registry import (
    canonical_spec,
    make_decoder,
    make_sparse_decoder,
    make_stream_decoder,
)
from dist_llm_train.config import RunConfig
from dist_llm_train.layout import ParamLayout

__all__ = ["ServerParts", "WorkerParts", "build_server_parts", "build_worker_parts", "canonical_spec",
           "layout_sha256", "make_decoder", "make_sparse_decoder", "make_stream_decoder"]


def layout_sha256(layout: ParamLayout) -> str:
    return hashlib.sha256(json.dumps(layout.to_json(), separators=(",", ":")).encode()).hexdigest()


def _build_model(cfg: RunConfig):
    from dist_llm_train.models import build_model

    return build_model(cfg.model.name, init=cfg.model.init, path=cfg.model.path, tokenizer=cfg.model.tokenizer,
                       seed=cfg.seed)


@dataclass
class ServerParts:
    core: object  # ServerCore
    layout: ParamLayout
    uplink_spec: str
    downlink_spec: str
    resumed_from: str | None


def build_server_parts(cfg: RunConfig, run_dir: Path, *, resume: bool = False, on_event=None,
                       evaluate: bool = True) -> ServerParts:
    from dist_llm_train.checkpoint import CheckpointManager
    from dist_llm_train.compression import make_codec
    from dist_llm_train.controller.assembly import build_core
    from dist_llm_train.controller.data_setup import build_run_data
    from dist_llm_train.runtime.grpc.membership import LivenessPolicy
    from dist_llm_train.runtime.grpc.server_core import ServerCore
    from dist_llm_train.sync.downlink import DownlinkMirror

    ck = cfg.checkpoint  # first: an unusable checkpoint directory is refused before the slow model build
    manager = CheckpointManager(Path(ck.dir) if ck.dir else run_dir / "checkpoints", keep=ck.keep)
    torch.set_num_threads(cfg.runtime.torch_threads)
    torch.manual_seed(cfg.seed)
    built = _build_model(cfg)
    layout = built.layout
    parts = build_core(cfg, layout, layout.flatten_module(built.module))
    n = len(parts.topology)
    evaluate_fn = None
    if evaluate:
        data = build_run_data(cfg, built, n)
        eval_lock = threading.Lock()

        def evaluate_fn(params: torch.Tensor) -> dict:
            with eval_lock:
                layout.load_into_module(built.module, params)
                return data.evaluator.evaluate(built.module)

    downlink = None
    if cfg.compression.downlink != "none":
        downlink = DownlinkMirror(make_codec(cfg.compression.downlink, layout=layout, seed=cfg.seed + 17))
    resumed_from = None
    if resume:
        state = manager.load_into(parts.server, parts.coordinator)
        resumed_from = state["path"]
    rt = cfg.runtime
    policy = LivenessPolicy(heartbeat_interval=rt.heartbeat_interval, misses=rt.heartbeat_misses,
                            step_multiplier=rt.drop_after_steps, floor_seconds=rt.drop_floor_seconds,
                            startup_grace=rt.startup_grace_seconds)
    core = ServerCore(
        parts.server, make_decoder(layout, cfg.compression.codec),
        decode_sparse=make_sparse_decoder(layout, cfg.compression.codec),
        decode_stream=make_stream_decoder(layout, cfg.compression.codec), num_workers=n,
        max_server_steps=cfg.max_server_steps, policy=policy,
        min_workers=min(rt.min_workers or n, n), downlink=downlink, checkpoints=manager,
        checkpoint_every_steps=ck.every_steps, checkpoint_every_seconds=ck.every_seconds,
        push_rate=rt.push_rate_limit, evaluate=evaluate_fn, eval_every=cfg.eval.every_steps, on_event=on_event,
    )
    if resumed_from:
        core.saved_version = parts.server.version  # nothing new to save until it steps
    down = canonical_spec(cfg.compression.downlink, layout) if downlink is not None else ""
    return ServerParts(core, layout, canonical_spec(cfg.compression.codec, layout), down, resumed_from)


@dataclass
class WorkerParts:
    logic: object  # WorkerLogic
    layout: ParamLayout


def build_worker_parts(cfg: RunConfig, worker_id: int, server_version: int = 0) -> WorkerParts:
    """The worker's model, data and logic. A worker that joins (or rejoins) at server_version > 0
    starts its inner lr schedule where a worker of this run would be by then."""
    from dist_llm_train.controller.assembly import build_worker, byzantine_ids, local_steps_by_version
    from dist_llm_train.controller.data_setup import build_run_data
    from dist_llm_train.network import build_topology

    torch.set_num_threads(cfg.runtime.torch_threads)
    torch.manual_seed(cfg.seed * 1000 + worker_id)
    built = _build_model(cfg)
    n = len(build_topology(cfg.network))
    if not 0 <= worker_id < n:
        from dist_llm_train.errors import ConfigError

        raise ConfigError(f"worker id {worker_id} is outside this run's workers 0..{n - 1}")
    data = build_run_data(cfg, built, n)
    byz = byzantine_ids(cfg, n)
    logic = build_worker(cfg, worker_id, built.module, built.layout, data.streams[worker_id].next_batch,
                         worker_id in byz, vocab_size=built.vocab_size, n=n, sample_budget=False)
    if logic.local_opt is not None and server_version > 0:
        logic.local_opt.schedule_step = local_steps_by_version(cfg, n, server_version)
    return WorkerParts(logic, built.layout)
