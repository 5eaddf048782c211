"""WorkerLogic: what one worker does between a pull and a push.

Given parameters and their version: run H local steps on the worker's own shard (H = 1: one
gradient; H > 1: a local optimizer and the pseudo-gradient start - end, as in DiLoCo), clip to a
norm, apply the configured attack if this worker is Byzantine, compress with error feedback, and
return an UpdateMessage. No clocks and no sockets: the runtime decides when this runs and how
the bytes travel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from dist_llm_train.attacks.base import Attack, AttackContext
from dist_llm_train.compression.base import Encoded
from dist_llm_train.layout import ParamLayout
from dist_llm_train.scratch import ScratchVectors
from dist_llm_train.worker.local_optimizer import FlatLocalOptimizer


@dataclass
class UpdateMessage:
    worker_id: int
    base_version: int
    encoded: Encoded
    n_samples: int
    metrics: dict = field(default_factory=dict)


class WorkerLogic:
    def __init__(
        self,
        worker_id: int,
        module: torch.nn.Module,
        layout: ParamLayout,
        next_batch: Callable[[], dict[str, torch.Tensor]],
        encoder,  # an ErrorFeedback wrapper or a bare Codec: .encode(flat) -> Encoded
        local_steps: int = 1,
        local_optimizer: str = "adamw",
        local_lr: float = 1e-3,
        local_schedule_kwargs: dict | None = None,  # FlatLocalOptimizer's warmup/schedule/total_steps/floor
        clip_norm: float | None = None,
        attack: Attack | None = None,
        attack_ctx: AttackContext | None = None,
        privatizer=None,
        scratch: ScratchVectors | None = None,
    ):
        """scratch: the pool the flat gradient and the local-step working copy are borrowed from for
        one round (the simulator shares one among its workers, which run in turn)."""
        if local_steps < 1:
            raise ValueError(f"local_steps must be >= 1, got {local_steps}")
        self.worker_id = worker_id
        self.module = module
        self.layout = layout
        self.next_batch = next_batch
        self.encoder = encoder
        self.local_steps = local_steps
        self.clip_norm = clip_norm
        self.attack = attack
        self.attack_ctx = attack_ctx or AttackContext()
        self.privatizer = privatizer
        d = layout.numel
        self.scratch = scratch if scratch is not None else ScratchVectors()
        self.local_opt = (FlatLocalOptimizer(d, local_optimizer, local_lr, **(local_schedule_kwargs or {}),
                                             scratch=self.scratch)
                          if local_steps > 1 else None)
        self.steps_done = 0

    @property
    def byzantine(self) -> bool:
        return self.attack is not None

    def _batch(self) -> dict[str, torch.Tensor]:
        batch = self.next_batch()
        if self.attack is not None and self.attack.poisons_data:
            batch = self.attack.corrupt_batch(batch, self.attack_ctx)
        return batch

    @property
    def _grad(self) -> torch.Tensor:
        return self.scratch.get("worker.grad", self.layout.numel)

    def _gradient(self) -> tuple[float, int, int]:
        """One forward/backward on the next batch; the flat gradient lands in self._grad."""
        batch = self._batch()
        self.module.zero_grad(set_to_none=True)
        out = self.module(**batch)
        out.loss.backward()
        self.layout.flatten_grads(self.module, out=self._grad)
        ids = batch["input_ids"]
        return float(out.loss.detach()), int(ids.shape[0]), int(ids.numel())

    def compute_update(self, params: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """The honest update from these parameters (before the attack and compression)."""
        self.module.train()
        self.layout.load_into_module(self.module, params)
        losses, samples, tokens = [], 0, 0
        if self.local_steps == 1:
            loss, n, t = self._gradient()
            update = self._grad
            losses.append(loss)
            samples, tokens = n, t
        else:
            work = self.scratch.get("worker.local_params", self.layout.numel)
            work.copy_(params)
            for _ in range(self.local_steps):
                loss, n, t = self._gradient()
                losses.append(loss)
                samples += n
                tokens += t
                self._clip(self._grad, float(self._grad.norm()))  # each local gradient, as DiLoCo's inner loop
                self.local_opt.step(work, self._grad)
                self.layout.load_into_module(self.module, work)
            update = torch.sub(params, work, out=self._grad)  # pseudo-gradient: start - end
        norm = float(update.norm())
        # H = 1: the gradient is clipped. H > 1: each inner gradient was; the pseudo-gradient (H
        # inner steps' displacement, bounded by the inner optimizer: AdamW moves a coordinate by
        # about lr a step) is sent as it is, since a bound meant for one gradient would shrink it
        # by about lr * H * sqrt(d) / clip_norm
        if self.local_steps == 1:
            self._clip(update, norm)
        if self.privatizer is not None:
            update = self.privatizer.privatize(update)
        self.steps_done += self.local_steps
        return update, {"loss": sum(losses) / len(losses), "samples": samples, "tokens": tokens, "norm": norm}

    def _clip(self, g: torch.Tensor, norm: float) -> None:
        if self.clip_norm is not None and norm > self.clip_norm:
            g.mul_(self.clip_norm / (norm + 1e-12))

    def run(self, params: torch.Tensor, base_version: int) -> UpdateMessage:
        """Pull-to-push: local steps, clip, attack (if Byzantine and not omniscient), compress."""
        update, metrics = self.compute_update(params)
        if self.attack is not None and not self.attack.omniscient and not self.attack.poisons_data:
            update = self.attack.apply(update, self.attack_ctx)
        enc = self.encoder.encode(update)
        return UpdateMessage(self.worker_id, base_version, enc, metrics["samples"], metrics)
