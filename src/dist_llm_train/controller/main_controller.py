"""MainController: one RunConfig in, one RunResult out.

Builds the model, data shards, workers, parameter server, coordinator and topology from the
config (a ValueError while building becomes a ConfigError: the run never started), runs the
chosen runtime until `max_server_steps`, a virtual-time budget or a target loss, evaluates every
N steps, and writes a run directory:

    config.yaml        the resolved configuration
    events.jsonl       every pull, push, server step and evaluation
    summary.json       the RunResult
    model.safetensors  final parameters
    checkpoints/       with checkpoint.every_steps / every_seconds: server, coordinator, RNGs, and the
                       simulator's clock, workers' data positions and error-feedback residuals
                       (`resume=True` / `train --resume` continues from the newest intact one)

The validation guide's flat dict (`{'model_name': 'gpt2', 'use_async': True, ...}`) is accepted too.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
import yaml

from dist_llm_train.config import RunConfig, load_config
from dist_llm_train.config.guide_compat import from_guide_config, looks_like_guide_config
from dist_llm_train.controller.assembly import build_core, build_worker
from dist_llm_train.controller.data_setup import build_run_data
from dist_llm_train.controller.memory_check import check_sim_memory
from dist_llm_train.controller.run_result import RunResult
from dist_llm_train.controller.sim_checkpoints import SimCheckpoints
from dist_llm_train.errors import ConfigError, DistLLMError
from dist_llm_train.metrics import EventLog
from dist_llm_train.models import build_model
from dist_llm_train.scratch import ScratchVectors


def as_build_error(cfg: RunConfig, exc: ValueError) -> DistLLMError:
    """A ValueError raised while building a run (before any training) means the config cannot be run:
    report it as one message, like a config error, instead of a traceback."""
    if isinstance(exc, DistLLMError):
        return exc
    return ConfigError(f"cannot build run {cfg.name!r} from its configuration: {exc}")


class MainController:
    def __init__(
        self,
        config: RunConfig | Mapping[str, Any] | str | Path | None = None,
        overrides: list[str] | Mapping[str, Any] | None = None,
        run_dir: str | Path | None = None,
        on_eval: Callable[[dict], None] | None = None,
        save_weights: bool = True,
        resume: bool = False,
    ):
        if isinstance(config, Mapping) and looks_like_guide_config(dict(config)):
            config = from_guide_config(dict(config))
        self.cfg: RunConfig = load_config(config, overrides)
        self.run_dir = Path(run_dir) if run_dir else Path(self.cfg.out_dir) / self.cfg.name
        self.on_eval = on_eval
        self.save_weights = save_weights
        self.resume = resume

    def run(self) -> RunResult:
        cfg = self.cfg
        if cfg.runtime.kind != "sim":
            from dist_llm_train.runtime.grpc.launcher import run_local

            if self.resume:
                raise ConfigError("resume=True is for the simulator; a gRPC run resumes with "
                                  "`dist-llm-train serve CONFIG --resume` (its workers reconnect on their own)")
            return run_local(cfg, run_dir=self.run_dir, on_eval=self.on_eval)
        return self._run_sim()

    def _run_sim(self) -> RunResult:
        from dist_llm_train.compression import make_codec, make_decoder
        from dist_llm_train.runtime.sim.simulator import SimOptions, Simulator
        from dist_llm_train.sync.downlink import DownlinkMirror

        cfg = self.cfg
        torch.set_num_threads(cfg.runtime.sim_threads or os.cpu_count() or 1)
        torch.manual_seed(cfg.seed)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
        t_build = time.perf_counter()
        try:
            built = build_model(cfg.model.name, init=cfg.model.init, path=cfg.model.path,
                                tokenizer=cfg.model.tokenizer, seed=cfg.seed)
            layout = built.layout
            initial = layout.flatten_module(built.module)
            core = build_core(cfg, layout, initial)
            n = len(core.topology)
            check_sim_memory(cfg, layout.numel, n, sorted(core.byzantine))
            data = build_run_data(cfg, built, n)
            scratch = ScratchVectors()  # the workers run one at a time: one set of round-long vectors
            workers = [
                build_worker(cfg, w, built.module, layout, data.streams[w].next_batch, w in core.byzantine,
                             vocab_size=built.vocab_size, n=n, scratch=scratch)
                for w in range(n)
            ]
        except ValueError as exc:
            raise as_build_error(cfg, exc) from exc

        def evaluate(params: torch.Tensor) -> dict:
            layout.load_into_module(built.module, params)
            return data.evaluator.evaluate(built.module)

        downlink = None
        if cfg.compression.downlink != "none":
            downlink = DownlinkMirror(make_codec(cfg.compression.downlink, layout=layout, seed=cfg.seed + 17))
        dense_bytes = make_codec("none", layout=layout).encode(torch.zeros(0)).header_bytes + 4 * layout.numel
        tokens_per_step = cfg.data.batch_size * cfg.data.seq_len
        opts = SimOptions(
            max_server_steps=cfg.max_server_steps,
            virtual_time_budget=cfg.virtual_time_budget,
            target_loss=cfg.eval.target_loss,
            max_samples=cfg.max_samples,
            pull_policy=cfg.sync.pull_policy,
            eval_every=cfg.eval.every_steps,
            flops_per_token=6.0 * layout.numel,
            extra={"tokens_per_step": tokens_per_step},
        )
        checkpoints = SimCheckpoints(cfg, self.run_dir, core, data.streams, workers, self.resume)
        opts.checkpoint_every_steps = cfg.checkpoint.every_steps
        opts.checkpoint_every_seconds = cfg.checkpoint.every_seconds
        log_name = f"events-resumed-{int(time.time())}.jsonl" if self.resume else "events.jsonl"
        log = EventLog(self.run_dir / log_name)
        build_seconds = time.perf_counter() - t_build
        try:
            sim = Simulator(
                core.server, workers, core.topology,
                decode=make_decoder(layout, cfg.compression.codec),
                options=opts, evaluate=evaluate, downlink=downlink, dense_down_bytes=dense_bytes,
                event_log=log, seed=cfg.seed, on_eval=self.on_eval,
                checkpoint=checkpoints.save if checkpoints.enabled else None, resume=checkpoints.resumed,
            )
            res = sim.run()
        finally:
            log.close()
        final = dict(res.curve[-1]) if res.curve else {}
        result = RunResult(
            name=cfg.name,
            run_dir=str(self.run_dir),
            config=cfg.model_dump(mode="json"),
            kind=built.kind,
            model=cfg.model.name,
            num_params=layout.numel,
            num_workers=n,
            worker_names=[lk.name for lk in core.topology.links],
            worker_regions=[lk.region for lk in core.topology.links],
            byzantine_ids=core.byzantine,
            server_steps=res.server_steps,
            virtual_time=res.virtual_time,
            wall_time=res.wall_time,
            stopped_by=res.stopped_by,
            curve=res.curve,
            final=final,
            summary=core.coordinator.summary(),
            utilization=res.utilization(),
            wall_breakdown={**res.wall_breakdown, "build": build_seconds},
            extra={"resumed_from": checkpoints.resumed["path"]} if checkpoints.resumed else {},
        )
        result.save(self.run_dir / "summary.json")
        if self.save_weights:
            from safetensors.torch import save_file

            state = {k: v.contiguous().clone() for k, v in layout.unflatten(core.server.params).items()}
            save_file(state, str(self.run_dir / "model.safetensors"))
        return result
