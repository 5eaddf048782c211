"""Build every runtime-independent part of a run from one RunConfig.

The simulator and the gRPC runtime both start here, so a run means the same thing on either:
same model, same shards, same codecs, same aggregator, same attack, same server optimizer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from dist_llm_train.aggregation import make_aggregator
from dist_llm_train.attacks import make_attack
from dist_llm_train.attacks.base import AttackContext
from dist_llm_train.compression import ErrorFeedback, make_codec
from dist_llm_train.config import RunConfig, buffer_size
from dist_llm_train.layout import ParamLayout
from dist_llm_train.network import Topology, build_topology
from dist_llm_train.scratch import ScratchVectors
from dist_llm_train.sync import BoundedAsyncCoordinator, ParameterServer
from dist_llm_train.worker import WorkerLogic


def byzantine_ids(cfg: RunConfig, n: int) -> list[int]:
    """Explicit ids, else the last `count` workers (so that worker 0 is always honest)."""
    if cfg.byzantine.workers is not None:
        return sorted(set(cfg.byzantine.workers))
    return list(range(n - cfg.byzantine.count, n)) if cfg.byzantine.count else []


def uses_error_feedback(cfg: RunConfig, byzantine: bool = False) -> bool:
    """Whether a worker's encoder keeps an error-feedback residual (honest workers of a lossy codec)."""
    return cfg.compression.error_feedback and cfg.compression.codec != "none" and not byzantine


def build_encoder(cfg: RunConfig, layout: ParamLayout, seed: int, byzantine: bool = False,
                  scratch: ScratchVectors | None = None):
    """The uplink encoder of one worker: the codec, wrapped in error feedback when asked."""
    codec = make_codec(cfg.compression.codec, layout=layout, seed=seed)
    if uses_error_feedback(cfg, byzantine):
        return ErrorFeedback(codec, scratch=scratch)
    return codec


def build_coordinator(cfg: RunConfig, n: int, byz: list[int]) -> BoundedAsyncCoordinator:
    s = cfg.sync
    agg = make_aggregator(cfg.aggregation.rule, f=cfg.aggregation.f, pre=list(cfg.aggregation.pre),
                          **cfg.aggregation.params)
    return BoundedAsyncCoordinator(
        num_workers=n,
        max_staleness=s.max_staleness,
        adaptive_staleness=s.adaptive_staleness,
        adaptive_multiplier=s.adaptive_multiplier,
        staleness_weighting=s.staleness_weighting,
        staleness_exp_a=s.staleness_exp_a,
        staleness_lr=s.staleness_lr,
        buffer_size=buffer_size(cfg),
        mode=s.mode,
        aggregator=agg,
        byzantine_ids=byz,
        input_momentum=cfg.aggregation.momentum,
    )


def build_attack(cfg: RunConfig, n: int):
    return make_attack(cfg.byzantine.attack, **cfg.byzantine.params)


def install_omniscient_attack(coord: BoundedAsyncCoordinator, cfg: RunConfig, layout: ParamLayout, byz: list[int],
                              seed: int) -> None:
    """Omniscient attacks are crafted at aggregation time, from the honest updates of the same round,
    then pass through the Byzantine worker's codec so the server sees exactly what the wire carried."""
    attack = build_attack(cfg, coord.num_workers)
    if not byz or not attack.omniscient:
        return
    codec = make_codec(cfg.compression.codec, layout=layout, seed=seed + 7919)
    gen = torch.Generator().manual_seed(seed + 104729)
    byz_set = set(byz)

    def transform(rows: torch.Tensor, ids: list[int]) -> dict[int, int]:
        """Rewrite the Byzantine rows; returns the wire bytes of each one's crafted message."""
        honest_idx = [i for i, w in enumerate(ids) if w not in byz_set]
        bad_idx = [i for i, w in enumerate(ids) if w in byz_set]
        if not bad_idx:
            return {}
        honest = rows[honest_idx] if honest_idx else rows[bad_idx]
        ctx = AttackContext(honest=honest, n=len(ids), f=max(cfg.aggregation.f, len(bad_idx)), generator=gen)
        sent = {}
        for i in bad_idx:
            malicious = attack.apply(rows[i].clone(), ctx)
            enc = codec.encode(malicious)
            rows[i].copy_(codec.decode(enc))
            sent[ids[i]] = enc.wire_bytes
        return sent

    coord.pre_aggregate = transform


@dataclass
class CoreParts:
    """The runtime-independent objects of a run."""

    cfg: RunConfig
    topology: Topology
    byzantine: list[int]
    server: ParameterServer
    coordinator: BoundedAsyncCoordinator


def build_core(cfg: RunConfig, layout: ParamLayout, initial_params: torch.Tensor) -> CoreParts:
    topology = build_topology(cfg.network)
    n = len(topology)
    byz = byzantine_ids(cfg, n)
    coord = build_coordinator(cfg, n, byz)
    install_omniscient_attack(coord, cfg, layout, byz, cfg.seed)
    server = ParameterServer(initial_params=initial_params, layout=layout, optimizer=cfg.optimizer,
                             coordinator=coord, total_steps=cfg.max_server_steps)
    return CoreParts(cfg, topology, byz, server, coord)


def local_steps_by_version(cfg: RunConfig, n: int, version: int) -> int:
    """About how many local steps one worker has taken when the server reaches `version`: each
    server step takes K updates (buffer_size) of the n workers, each update H local steps."""
    return math.ceil(version * buffer_size(cfg) / max(1, n)) * cfg.worker.local_steps


def averaged_updates(cfg: RunConfig) -> int:
    """How many updates one server step averages: its buffer, less the f a robust rule sets aside."""
    return max(1, buffer_size(cfg) - cfg.aggregation.f)


def planned_local_steps(cfg: RunConfig, n: int, sample_budget: bool = True) -> int:
    """The local steps one worker is expected to take in the run, the span of its inner lr
    schedule: what max_server_steps allows (local_steps_by_version), or, when the run also stops
    at max_samples (the simulator; `sample_budget`), its share of that budget in batches if fewer.
    A worker faster than its share runs past it at the schedule's floor, a slower one stops short."""
    planned = local_steps_by_version(cfg, n, cfg.max_server_steps)
    if sample_budget and cfg.max_samples:
        planned = min(planned, math.ceil(cfg.max_samples / (max(1, n) * cfg.data.batch_size)))
    return max(1, planned)


def build_worker(cfg: RunConfig, worker_id: int, module: torch.nn.Module, layout: ParamLayout, next_batch,
                 byzantine: bool, vocab_size: int | None = None, n: int = 1, privatizer=None,
                 sample_budget: bool = True, scratch: ScratchVectors | None = None) -> WorkerLogic:
    """One worker's logic. sample_budget: whether the run stops at cfg.max_samples (the simulator
    does; the gRPC server stops at max_server_steps only), which bounds the inner lr schedule.
    scratch: a pool of round-long vectors shared with workers that run in turn (the simulator's)."""
    attack = build_attack(cfg, n) if byzantine else None
    ctx = AttackContext(n=n, f=cfg.aggregation.f, generator=torch.Generator().manual_seed(cfg.seed + 31 * worker_id),
                        vocab_size=vocab_size)
    w = cfg.worker
    return WorkerLogic(
        worker_id=worker_id,
        module=module,
        layout=layout,
        next_batch=next_batch,
        encoder=build_encoder(cfg, layout, seed=cfg.seed * 1000 + worker_id, byzantine=byzantine, scratch=scratch),
        local_steps=w.local_steps,
        local_optimizer=w.local_optimizer,
        local_lr=w.local_lr,
        local_schedule_kwargs={"warmup_steps": w.local_warmup_steps, "schedule": w.local_schedule,
                               "total_steps": planned_local_steps(cfg, n, sample_budget),
                               "min_lr_ratio": w.local_min_lr_ratio,
                               "noise_divisor": averaged_updates(cfg) if w.local_second_moment == "averaged" else 1.0},
        clip_norm=w.clip_norm,
        attack=attack,
        attack_ctx=ctx,
        privatizer=privatizer,
        scratch=scratch,
    )
