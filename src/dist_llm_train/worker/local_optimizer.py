"""The worker's inner optimizer for H > 1 local steps (DiLoCo), on the flat parameter vector.

Each worker keeps its own state across rounds (as DiLoCo does) even though, in the simulator,
workers share one torch module to save memory: the state lives here, not in the module. The lr
follows its own warm-up and cosine schedule over the worker's planned local steps (DiLoCo decays
the inner lr). The place on that schedule (`schedule_step`) is counted apart from Adam's step
count `t`: a resumed or restarted worker gets its place back (from a checkpoint, or estimated
from the server's version) while its moments start afresh with t = 0, as Adam's bias correction
assumes.

`noise_divisor` k > 1 (worker.local_second_moment = averaged): the second moment is rescaled to the
gradient noise of the k-worker average the pseudo-gradients end up in. A worker's Adam divides by
the root of its own v, which on a small batch is mostly noise (v = g^2 + s^2 for a one-worker noise
variance s^2), so in low signal-to-noise coordinates its steps are sqrt(k) shorter than the steps
one Adam on the averaged gradient (v = g^2 + s^2 / k) would take, and averaging k of them does not
give that length back. With m^2 (the bias-corrected first moment squared: g^2 plus little noise)
as the estimate of g^2, v / k + (1 - 1 / k) m^2 estimates the averaged gradient's second moment
from the worker's own statistics, without any extra message.
"""

from __future__ import annotations

import math

import torch

from dist_llm_train.scratch import ScratchVectors
from dist_llm_train.sync.lr_schedule import scheduled_lr


class FlatLocalOptimizer:
    def __init__(self, numel: int, name: str = "adamw", lr: float = 1e-3, betas=(0.9, 0.95), eps: float = 1e-8,
                 weight_decay: float = 0.0, warmup_steps: int = 0, schedule: str = "constant",
                 total_steps: int | None = None, min_lr_ratio: float = 0.1, noise_divisor: float = 1.0,
                 scratch: ScratchVectors | None = None):
        """scratch: where the step's denominator is computed (a pool shared by the simulator's workers,
        which step in turn); the moments m and v are always this optimizer's own."""
        if name not in ("sgd", "adamw"):
            raise ValueError(f"unknown local optimizer {name!r}; allowed: sgd, adamw")
        if schedule not in ("constant", "cosine"):
            raise ValueError(f"unknown local lr schedule {schedule!r}; allowed: constant, cosine")
        if not noise_divisor >= 1:
            raise ValueError(f"noise_divisor must be >= 1 (the number of averaged workers), got {noise_divisor}")
        self.noise_divisor = float(noise_divisor)
        self.name, self.lr, self.betas, self.eps, self.wd = name, lr, betas, eps, weight_decay
        self.warmup_steps, self.schedule, self.total_steps, self.min_lr_ratio = (
            warmup_steps, schedule, total_steps, min_lr_ratio)
        self.t = 0
        self.schedule_step = 0
        self.m = torch.zeros(numel) if name == "adamw" else None
        self.v = torch.zeros(numel) if name == "adamw" else None
        self.numel = numel
        self.scratch = scratch if scratch is not None else ScratchVectors()

    def lr_at(self, step: int) -> float:
        """The lr of the local step after `step` completed ones."""
        return scheduled_lr(self.lr, step, self.warmup_steps, self.schedule, self.total_steps, self.min_lr_ratio)

    @torch.no_grad()
    def step(self, params: torch.Tensor, grad: torch.Tensor) -> None:
        lr = self.lr_at(self.schedule_step)
        self.schedule_step += 1
        self.t += 1
        if self.name == "sgd":
            params.add_(grad, alpha=-lr)
            return
        b1, b2 = self.betas
        if self.wd:
            params.mul_(1 - lr * self.wd)
        self.m.mul_(b1).add_(grad, alpha=1 - b1)
        self.v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        bc1, bc2 = 1 - b1**self.t, 1 - b2**self.t
        denom = self.scratch.get("local_opt.denominator", self.numel)
        if self.noise_divisor == 1.0:
            torch.sqrt(self.v, out=denom).div_(math.sqrt(bc2)).add_(self.eps)
        else:
            k = self.noise_divisor
            torch.mul(self.m, self.m, out=denom).mul_((1 - 1 / k) / bc1**2)
            denom.add_(self.v, alpha=1 / (k * bc2)).sqrt_().add_(self.eps)
        params.addcdiv_(self.m, denom, value=-lr / bc1)

    def state_dict(self, prefix: str) -> dict[str, torch.Tensor]:
        counters = {f"{prefix}.t": torch.tensor([self.t]),
                    f"{prefix}.schedule_step": torch.tensor([self.schedule_step])}
        if self.name == "sgd":
            return counters
        return {f"{prefix}.m": self.m, f"{prefix}.v": self.v, **counters}

    def load_state_dict(self, state: dict[str, torch.Tensor], prefix: str) -> None:
        self.t = int(state[f"{prefix}.t"].item())
        self.schedule_step = int(state.get(f"{prefix}.schedule_step", state[f"{prefix}.t"]).item())
        if self.name == "adamw":
            self.m.copy_(state[f"{prefix}.m"])
            self.v.copy_(state[f"{prefix}.v"])
