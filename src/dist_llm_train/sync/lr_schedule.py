"""One learning-rate schedule for the server's optimizer and the workers' inner (DiLoCo) optimizer.

Linear warm-up over `warmup_steps`, then constant or a cosine decay to `min_lr_ratio` x lr at
`total_steps`. The inner optimizer needs it as much as the outer one: without the decay the
last local steps of a DiLoCo run are taken at the full lr, and the final loss stays where a
constant lr leaves it while the baseline's cosine has settled.
"""

from __future__ import annotations

import math


def scheduled_lr(lr: float, step: int, warmup_steps: int = 0, schedule: str = "constant",
                 total_steps: int | None = None, min_lr_ratio: float = 0.1) -> float:
    """The learning rate after `step` completed steps."""
    if warmup_steps and step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    if schedule == "cosine" and total_steps:
        span = max(1, total_steps - warmup_steps)
        progress = min(1.0, (step - warmup_steps) / span)
        floor = lr * min_lr_ratio
        return floor + (lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    return lr
