"""Staleness policies: how far behind an update may be, and how much it still counts.

Staleness tau = server version now - the version the update was computed from. A fixed bound
rejects anything older than `max_staleness`; the adaptive bound gives each worker
base + multiplier x (its step interval / the fastest worker's), so that a worker that is slow by
nature is judged against its own pace instead of being starved.
"""

from __future__ import annotations

import math


def staleness_weight(tau: int, scheme: str, a: float = 0.1) -> float:
    """Weight of an update with staleness tau: none -> 1, inverse -> 1/(1+tau), exp -> exp(-a tau)."""
    if scheme == "none":
        return 1.0
    if scheme == "inverse":
        return 1.0 / (1.0 + tau)
    if scheme == "exp":
        return math.exp(-a * tau)
    raise ValueError(f"unknown staleness weighting {scheme!r}; allowed: none, inverse, exp")


class IntervalTracker:
    """Exponential moving average of each worker's time between successive submissions."""

    def __init__(self, alpha: float = 0.3):
        self.alpha = alpha
        self.last: dict[int, float] = {}
        self.ema: dict[int, float] = {}

    def start(self, worker_id: int, now: float) -> None:
        self.last.setdefault(worker_id, now)

    def observe(self, worker_id: int, now: float) -> None:
        prev = self.last.get(worker_id)
        self.last[worker_id] = now
        if prev is None:
            return
        dt = max(now - prev, 1e-9)
        old = self.ema.get(worker_id)
        self.ema[worker_id] = dt if old is None else (1 - self.alpha) * old + self.alpha * dt

    def ratio(self, worker_id: int) -> float:
        """This worker's interval over the fastest known worker's (1.0 while unknown)."""
        mine = self.ema.get(worker_id)
        if mine is None or not self.ema:
            return 1.0
        return mine / min(self.ema.values())

    def state_dict(self) -> dict:
        return {"alpha": self.alpha, "last": dict(self.last), "ema": dict(self.ema)}

    def load_state_dict(self, state: dict) -> None:
        self.alpha = float(state["alpha"])
        self.last = {int(k): float(v) for k, v in state["last"].items()}
        self.ema = {int(k): float(v) for k, v in state["ema"].items()}


class StalenessBound:
    def __init__(self, max_staleness: int, adaptive: bool = False, multiplier: float = 20.0):
        if max_staleness < 0:
            raise ValueError(f"max_staleness must be >= 0, got {max_staleness}")
        self.base = int(max_staleness)
        self.adaptive = adaptive
        self.multiplier = float(multiplier)

    def bound(self, ratio: float) -> int:
        if not self.adaptive:
            return self.base
        return int(self.base + self.multiplier * ratio)
