"""ParameterServer: versioned flat parameters, the server optimizer, pull and submit.

The same object serves the simulator and the gRPC service: it knows nothing of clocks or sockets.
`submit` hands a decoded update to the BoundedAsyncCoordinator, and when the coordinator's buffer
is full it aggregates and applies one server step (version + 1).

The validation guide's calls work as written:
    ps = ParameterServer(initial_model_state={name: tensor})
    coordinator = BoundedAsyncCoordinator(num_workers=5, max_staleness=50, adaptive_staleness=True)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from dist_llm_train.compression.base import Encoded
from dist_llm_train.config.schema import OptimizerConfig
from dist_llm_train.layout import ParamLayout
from dist_llm_train.sync.coordinator import Admission, BoundedAsyncCoordinator, FlushResult
from dist_llm_train.sync.server_optimizer import ServerOptimizer
from dist_llm_train.sync.sparse import SparseUpdate
from dist_llm_train.sync.step_guard import StepGuard, StepRefused

log = logging.getLogger("dist_llm_train.sync.server")

__all__ = ["ParameterServer", "BoundedAsyncCoordinator", "PullResult", "SubmitResult"]


#: what a pull reply carries: the whole vector, a compressed delta to the worker's replica, or nothing new
PULL_KINDS = ("full", "delta", "not_modified")


@dataclass
class PullResult:
    """The reply to `pull(known_version)`.

    `params` is what the worker holds once it has applied the reply (a read-only view: copy before
    mutating): the server's vector, or with a compressed downlink the worker's mirrored replica.
    `kind` says what travelled: `full` (the whole vector), `delta` (`encoded`, to be added to the
    replica of `known_version`) or `not_modified` (nothing: the worker already has `version`).
    """

    version: int
    params: torch.Tensor
    kind: str = "full"
    encoded: Encoded | None = None


@dataclass
class SubmitResult:
    admission: Admission
    flushed: FlushResult | None  # the step taken (None: no step, or a step the guard refused)
    version: int
    refused_step: str | None = None  # why the guard refused the step this submit triggered


class ParameterServer:
    def __init__(
        self,
        initial_model_state: Mapping[str, torch.Tensor] | None = None,
        *,
        initial_params: torch.Tensor | None = None,
        layout: ParamLayout | None = None,
        optimizer: OptimizerConfig | ServerOptimizer | None = None,
        coordinator: BoundedAsyncCoordinator | None = None,
        total_steps: int | None = None,
        downlink=None,
        guard: StepGuard | None = None,
    ):
        if initial_model_state is not None:
            self.layout = layout or ParamLayout.from_state_dict(initial_model_state)
            self.params = self.layout.flatten(initial_model_state)
        elif initial_params is not None and layout is not None:
            layout.check_flat(initial_params)
            self.layout = layout
            self.params = initial_params.detach().to(torch.float32).clone()
        else:
            raise ValueError("ParameterServer needs initial_model_state={name: tensor}, or initial_params and layout")
        if isinstance(optimizer, ServerOptimizer):
            self.optimizer = optimizer
        else:
            self.optimizer = ServerOptimizer(self.layout.numel, optimizer, total_steps=total_steps)
        self.coordinator = coordinator
        self.guard = guard or StepGuard()  # refuses absurd updates and steps that would break the state
        self.downlink = downlink  # a DownlinkMirror: pulls of known versions get compressed deltas
        self.version = 0
        self.last_lr = 0.0

    @property
    def numel(self) -> int:
        return self.layout.numel

    def pull(self, known_version: int | None = None, worker_id: int | None = None) -> PullResult:
        """What a worker that holds `known_version` (None: nothing) needs to be current.

        Up to date: `not_modified`. With a downlink mirror holding this worker's replica of
        `known_version`: the compressed `delta` to it (and the mirror advances). Otherwise the
        `full` vector (and, with a mirror, the worker's replica restarts from it).
        """
        v = self.version
        dl = self.downlink if worker_id is not None else None
        if known_version is not None and known_version == v:
            if dl is None:
                return PullResult(v, self.params, "not_modified")
            if dl.has_replica(worker_id, v):
                return PullResult(v, dl.replicas[worker_id], "not_modified")
        if dl is None:
            return PullResult(v, self.params, "full")
        if known_version is not None and dl.has_replica(worker_id, known_version):
            enc, rep = dl.encode_for(worker_id, self.params, v)
            return PullResult(v, rep, "delta", enc)
        return PullResult(v, dl.start(worker_id, self.params, v), "full")

    def model_state(self) -> dict[str, torch.Tensor]:
        """The parameters as a {name: tensor} state dict (views of the flat vector)."""
        return self.layout.unflatten(self.params)

    def apply(self, update: torch.Tensor, lr_scale: float = 1.0) -> int:
        """One server step with an already aggregated update; StepRefused (and nothing changed) when the
        guard finds the update absurd or the step would make any state non-finite."""
        if update.numel() != self.numel:
            raise ValueError(f"update has {update.numel()} elements, the model has {self.numel}")
        self.last_lr = self.guard.step(self.optimizer, self.params, update, lr_scale)
        self.version += 1
        return self.version

    def submit(
        self,
        update: torch.Tensor,
        base_version: int,
        worker_id: int,
        n_samples: int = 1,
        now: float | None = None,
        wire_bytes: int = 0,
        compute_seconds: float = 0.0,
    ) -> SubmitResult:
        """Offer a decoded update; aggregate and step when the coordinator's buffer is full.

        `compute_seconds` is the worker's reported time to compute it (counted per worker)."""
        if self.coordinator is None:
            self.coordinator = BoundedAsyncCoordinator(num_workers=max(worker_id + 1, 1), max_staleness=0)
        if math.isfinite(compute_seconds) and compute_seconds > 0:  # a worker's own report: ignore nonsense
            self.coordinator.record_compute(worker_id, compute_seconds)
        values = update.values if isinstance(update, SparseUpdate) else update
        reason = self.guard.check_update(values)
        if reason is not None:  # refused before it can reach the aggregate, and counted under its reason
            self.guard.refuse_update(worker_id, reason, values)
            adm = self.coordinator.refuse(worker_id, reason, base_version, self.version, wire_bytes, now)
            return SubmitResult(adm, None, self.version)
        adm = self.coordinator.offer(worker_id, update, base_version, self.version, n_samples, now, wire_bytes)
        flushed, refused = None, None
        if adm.accepted and self.coordinator.ready():
            flushed = self.coordinator.flush()
            try:
                self.apply(flushed.update, flushed.lr_scale)
            except StepRefused as exc:
                log.warning("server step %d refused: %s", self.version + 1, exc)
                flushed, refused = None, str(exc)
        return SubmitResult(adm, flushed, self.version, refused)

    def state_dict(self) -> dict[str, torch.Tensor]:
        state = {"params": self.params, "version": torch.tensor([self.version], dtype=torch.int64)}
        state.update(self.optimizer.state_dict())
        return state

    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        if state["params"].shape != self.params.shape:
            raise ValueError(
                f"checkpoint has {state['params'].numel()} parameters, this model has {self.numel}: "
                "it belongs to another model"
            )
        self.params.copy_(state["params"])
        self.version = int(state["version"].item())
        self.optimizer.load_state_dict(dict(state))
