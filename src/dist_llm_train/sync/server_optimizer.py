"""The server's optimizer: applied to each aggregated update of the flat parameter vector.

With H = 1 the aggregated update is a gradient and this is the ordinary optimizer; with H > 1
(DiLoCo) it is the outer optimizer applied to the averaged pseudo-gradient (start - end), Nesterov
momentum being the published choice. Works on one flat fp32 vector with in-place ops and
preallocated state, so a 124M-parameter step costs a few memory passes and no allocation.
"""

from __future__ import annotations

import math

import torch

from dist_llm_train.config.schema import OptimizerConfig
from dist_llm_train.sync.lr_schedule import scheduled_lr


class ServerOptimizer:
    def __init__(self, numel: int, cfg: OptimizerConfig | None = None, total_steps: int | None = None):
        self.cfg = cfg or OptimizerConfig()
        self.numel = numel
        self.total_steps = total_steps
        self.step_count = 0
        self.state: dict[str, torch.Tensor] = {}
        name = self.cfg.name
        if name in ("momentum", "nesterov"):
            self.state["momentum"] = torch.zeros(numel)
        elif name in ("adam", "adamw"):
            self.state["exp_avg"] = torch.zeros(numel)
            self.state["exp_avg_sq"] = torch.zeros(numel)
        self._buf = torch.empty(numel)

    def lr_at(self, step: int) -> float:
        """Learning rate after `step` completed steps: linear warm-up, then constant or cosine decay."""
        c = self.cfg
        return scheduled_lr(c.lr, step, c.warmup_steps, c.schedule, self.total_steps, c.min_lr_ratio)

    def next_step(self, lr_scale: float = 1.0) -> tuple[float, int]:
        """(lr, t) the next step will use, without taking it."""
        return self.lr_at(self.step_count) * lr_scale, self.step_count + 1

    @torch.no_grad()
    def step(self, params: torch.Tensor, update: torch.Tensor, lr_scale: float = 1.0) -> float:
        """params <- params - lr * direction(update); returns the lr used."""
        lr, t = self.next_step(lr_scale)
        self.step_count += 1
        self.update_into(params, update, self.state, self._buf, lr, t)
        return lr

    def output_bound(self, p_max: float, state_max: dict[str, float], u_max: float, lr: float, t: int) -> float:
        """An upper bound on the magnitude of every value step number t computes (intermediates, new
        state, new parameters) from parameters, state and update whose largest magnitudes are given;
        inf when none can be given. In float64, so it is itself finite however large the inputs."""
        c = self.cfg
        wd, lr = abs(c.weight_decay or 0.0), abs(lr)
        if c.name in ("sgd", "momentum", "nesterov"):
            g = u_max + wd * p_max  # the update after weight decay
            if c.name == "sgd":
                return _largest(g, p_max + lr * g)
            m = abs(c.momentum) * state_max["momentum"] + g
            step = m if c.name == "momentum" else g + abs(c.momentum) * m
            return _largest(g, m, step, p_max + lr * step)
        if not c.eps > 0:  # m / (sqrt(v) + eps) with v = 0 is unbounded
            return math.inf
        b1, b2 = c.betas
        g = u_max if c.name == "adamw" else u_max + wd * p_max
        decay = abs(1 - lr * wd) if c.name == "adamw" else 1.0
        m = b1 * state_max["exp_avg"] + (1 - b1) * g
        v = b2 * state_max["exp_avg_sq"] + (1 - b2) * g * g
        denom = math.sqrt(v) / math.sqrt(1 - b2**t) + c.eps
        return _largest(g, g * g, m, v, denom, p_max * decay + lr / (1 - b1**t) * m / c.eps)

    @torch.no_grad()
    def update_into(self, params: torch.Tensor, update: torch.Tensor, state: dict[str, torch.Tensor],
                    buf: torch.Tensor, lr: float, t: int) -> None:
        """Step number t with learning rate lr on these tensors, in place: the whole vector (step) or a
        slice of it with slices of the state (the step guard's trial on copies)."""
        c = self.cfg
        if c.name in ("sgd", "momentum", "nesterov") and c.weight_decay:
            update = update.add(params, alpha=c.weight_decay)
        if c.name == "sgd":
            params.add_(update, alpha=-lr)
        elif c.name in ("momentum", "nesterov"):
            m = state["momentum"]
            m.mul_(c.momentum).add_(update)
            if c.name == "nesterov":
                torch.add(update, m, alpha=c.momentum, out=buf)
                params.add_(buf, alpha=-lr)
            else:
                params.add_(m, alpha=-lr)
        else:
            b1, b2 = c.betas
            m, v = state["exp_avg"], state["exp_avg_sq"]
            if c.name == "adamw" and c.weight_decay:
                params.mul_(1 - lr * c.weight_decay)
            elif c.weight_decay:
                update = update.add(params, alpha=c.weight_decay)
            m.mul_(b1).add_(update, alpha=1 - b1)
            v.mul_(b2).addcmul_(update, update, value=1 - b2)
            bc1 = 1 - b1**t
            bc2 = 1 - b2**t
            torch.sqrt(v, out=buf).div_(math.sqrt(bc2)).add_(c.eps)
            params.addcdiv_(m, buf, value=-lr / bc1)

    def state_dict(self) -> dict[str, torch.Tensor]:
        out = {f"opt.{k}": v for k, v in self.state.items()}
        out["opt.step_count"] = torch.tensor([self.step_count], dtype=torch.int64)
        return out

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for k in self.state:
            src = state.get(f"opt.{k}")
            if src is None or src.shape != self.state[k].shape:
                raise ValueError(f"optimizer state {k!r} missing or of the wrong shape in the checkpoint")
            self.state[k].copy_(src)
        self.step_count = int(state["opt.step_count"].item())


def _largest(*values: float) -> float:
    """max() that answers NaN when any value is NaN (a bound of a non-finite input is no bound)."""
    return math.nan if any(v != v for v in values) else max(values)
