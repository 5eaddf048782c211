"""Checkpoints of a simulated run, in the same format the gRPC server writes.

The server's part (parameters, server optimizer, version, coordinator, RNGs) is what
`dist-llm-train serve --resume` reads too, so a simulated run can be continued by real processes
and the other way round. A simulated run also saves what only it holds: the virtual clock, counters
and curve, each worker's position in its data shard and its error-feedback residual (with the
codec's own state, e.g. PowerSGD's warm start) and, with local steps, its place on the inner lr
schedule. What it does not save: the events in flight and the local optimizer's moments (DiLoCo's
inner AdamW); on resume every worker starts a fresh round from the restored parameters, with fresh
moments but its inner lr where it was, as real workers do after the server restarts.
"""

from __future__ import annotations

from pathlib import Path

import torch

from dist_llm_train.checkpoint import CheckpointManager
from dist_llm_train.errors import ResourceNotFoundError


class SimCheckpoints:
    def __init__(self, cfg, run_dir: Path, core, streams, workers, resume: bool):
        ck = cfg.checkpoint
        self.enabled = ck.every_steps is not None or ck.every_seconds is not None
        self.core, self.streams, self.workers = core, streams, workers
        self.resumed: dict | None = None
        directory = Path(ck.dir) if ck.dir else run_dir / "checkpoints"
        if not (self.enabled or resume):
            self.manager = None
            return
        if resume and not directory.is_dir():
            raise ResourceNotFoundError(f"cannot resume: no checkpoint folder {directory}; run without --resume "
                                        "(and with checkpoint.every_steps set) first")
        self.manager = CheckpointManager(directory, keep=ck.keep)
        self.enabled = True  # a resumed run keeps checkpointing (at the end at least)
        if resume:
            self._load()

    def save(self, sim) -> None:
        tensors = {}
        for w, worker in enumerate(self.workers):
            state = getattr(worker.encoder, "state_dict", dict)()
            tensors.update({f"worker.{w}.encoder.{k}": v for k, v in state.items()})
            if worker.local_opt is not None:
                tensors[f"worker.{w}.local.schedule_step"] = torch.tensor([worker.local_opt.schedule_step])
        self.manager.save(self.core.server, self.core.coordinator, extra_tensors=tensors, extra={
            "sim": sim.state(), "streams": [s.state_dict() for s in self.streams]})

    def _load(self) -> None:
        path = self.manager.latest()
        if path is None:
            raise ResourceNotFoundError(f"cannot resume: no intact checkpoint in {self.manager.dir}")
        state = self.manager.load_into(self.core.server, self.core.coordinator, path=path)
        extra = state.get("extra", {})
        if "sim" not in extra:
            raise ResourceNotFoundError(f"{path} was written by a gRPC server, not the simulator: resume it with "
                                        "`dist-llm-train serve CONFIG --resume`")
        streams = extra.get("streams", [])
        if len(streams) != len(self.workers):
            raise ValueError(f"{path} is of a run with {len(streams)} workers, this configuration has "
                             f"{len(self.workers)}: resume with the configuration that wrote it")
        for stream, st in zip(self.streams, streams):
            stream.load_state_dict(st)
        tensors = state["extra_tensors"]
        for w, worker in enumerate(self.workers):
            prefix = f"worker.{w}.encoder."
            mine = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
            if hasattr(worker.encoder, "load_state_dict"):
                worker.encoder.load_state_dict(mine)
            step = tensors.get(f"worker.{w}.local.schedule_step")
            if worker.local_opt is not None and step is not None:
                worker.local_opt.schedule_step = int(step.item())
        self.resumed = {**extra["sim"], "path": str(path)}
