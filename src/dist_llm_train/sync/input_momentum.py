"""Per-worker momentum of the aggregator's inputs (Karimireddy, He & Jaggi 2021, "Learning from
History for Byzantine Robust Optimization").

A robust rule can only tell a malicious input from honest ones when the honest inputs are closer
to each other than to it. With small batches, top-k and error feedback the honest updates of one
round are nearly orthogonal (measured on the gpt2 suite's ci cut: pairwise cosine 0.04-0.2 after
a dozen steps), so a sign-flipped update is as close to them as they are to each other and
Multi-Krum drops an honest input instead. An exponential moving average of each worker's inputs
shrinks the honest noise by about sqrt((1 - beta) / (1 + beta)) while a consistent attack keeps
its full size, so the rule scores and combines the workers' histories instead of one noisy round.

The average is kept by the server from what it received, so a Byzantine worker cannot opt out;
what is scored is what is combined, so an attacker that alternates to keep a small average also
keeps a small influence. Bias correction (divide by 1 - beta^t, t = that worker's inputs so far)
makes the first inputs full size. With an Adam-style server optimizer the server's own first
moment should then be off (betas[0] = 0): the momentum has moved in front of the aggregator.

The memory is counted in server steps, not in a worker's own inputs: a worker that last sent an
input d steps ago has its average decayed by beta^d before the new input joins it. With real
asynchrony (more workers than a step aggregates, speeds 5x apart) a slow worker sends every few
steps; counted per input, its average would reach back 4 / (1 - beta) of its inputs = up to 16
steps at beta 0.8 on the gpt2 suite, on top of each input's own staleness, and the step would
follow a stale direction. Counted in steps every worker's average is about as recent, and when
every worker sends every step (synchronous training) the two are the same. Bias correction keeps
the weight the average has accumulated (norm = sum of the weights, 1 - beta^t for t regular
inputs), so the first inputs and those after a long pause are full size.

The averages are not part of a checkpoint: a resumed run restarts them (bias correction makes
that a fresh start, not a shrunken one).
"""

from __future__ import annotations

import torch


class InputMomentum:
    def __init__(self, beta: float):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"input momentum beta must be in [0, 1), got {beta}")
        self.beta = float(beta)
        self._avg: dict[int, torch.Tensor] = {}
        self._norm: dict[int, float] = {}  # the weight the average holds (its bias correction)
        self._last: dict[int, int] = {}  # the step of the worker's last input

    @property
    def active(self) -> bool:
        return self.beta > 0.0

    def apply(self, rows: torch.Tensor, worker_ids: list[int], step: int | None = None) -> None:
        """Replace, in place, row i by worker_ids[i]'s bias-corrected moving average including it.
        step: the server step these inputs are aggregated for (decay beta^(steps since the worker's
        last input)); None counts each input as one step."""
        if not self.active:
            return
        for i, w in enumerate(worker_ids):
            avg = self._avg.get(w)
            if avg is None or avg.shape != rows[i].shape:
                avg = self._avg[w] = torch.zeros_like(rows[i])
                self._norm[w] = 0.0
            last = self._last.get(w)
            gap = 1 if step is None or last is None else max(1, step - last)
            decay = self.beta ** gap
            avg.mul_(decay).add_(rows[i], alpha=1.0 - decay)
            self._norm[w] = decay * self._norm[w] + (1.0 - decay)
            self._last[w] = step if step is not None else (last or 0) + 1
            torch.div(avg, self._norm[w], out=rows[i])

    def forget(self, worker_id: int) -> None:
        """Drop a worker's history (it left the run; if it returns it starts afresh)."""
        self._avg.pop(worker_id, None)
        self._norm.pop(worker_id, None)
        self._last.pop(worker_id, None)
