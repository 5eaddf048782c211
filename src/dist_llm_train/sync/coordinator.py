"""BoundedAsyncCoordinator: admission by staleness, staleness weighting, and a buffer of K
updates flushed through a (robust) aggregator.

K = 1 is plain asynchronous SGD; K = n with bound 0 is synchronous (the runtime adds the barrier).
The buffer counts *distinct workers*: a fast worker that submits again before the buffer is full
has its updates merged into its single input (weighted by staleness), so that the aggregator's f
always counts workers. Without this a fast Byzantine worker could fill the buffer with copies of
itself and defeat any rule whose guarantee assumes at most f bad inputs.

With `input_momentum` beta > 0 the aggregator sees each worker's moving average of its inputs
rather than the latest one (input_momentum.py: what makes a sign flip separable from noisy honest
updates).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch

from dist_llm_train.sync.accounting import WorkerStats, summarize_stats
from dist_llm_train.sync.input_momentum import InputMomentum
from dist_llm_train.sync.sparse import SparseUpdate
from dist_llm_train.sync.staleness import IntervalTracker, StalenessBound, staleness_weight


def all_finite(x: torch.Tensor) -> bool:
    """One allocation-free pass: a NaN or Inf makes the sum non-finite. Only when the sum is not
    finite (a NaN, an Inf, or finite values that overflow together) is the exact check run."""
    if bool(torch.isfinite(x.sum())):
        return True
    return bool(torch.isfinite(x).all())


#: an aggregator's trust below this counts as "filtered" for detection statistics
FILTER_THRESHOLD = 0.5


@dataclass
class Admission:
    accepted: bool
    staleness: int
    bound: int
    reason: str | None = None


@dataclass
class _Pending:
    total: torch.Tensor
    weight_sum: float
    count: int
    samples: int
    staleness: list[int] = field(default_factory=list)
    wire_bytes: int = 0  # bytes of the accepted messages merged here (replaced if an attack rewrites them)


@dataclass
class FlushResult:
    update: torch.Tensor
    lr_scale: float
    worker_ids: list[int]
    trust: list[float]
    staleness: list[int]
    samples: int
    info: dict
    #: worker -> (bytes counted for its honest messages, bytes of what it actually sent) where an
    #: omniscient attack rewrote its input at aggregation time
    rewritten_bytes: dict[int, tuple[int, int]] = field(default_factory=dict)


class BoundedAsyncCoordinator:
    def __init__(
        self,
        num_workers: int = 5,
        max_staleness: int = 50,
        adaptive_staleness: bool = False,
        adaptive_multiplier: float = 20.0,
        staleness_weighting: str = "none",
        staleness_exp_a: float = 0.1,
        staleness_lr: bool = False,
        buffer_size: int | None = None,
        mode: str = "async",
        aggregator=None,
        byzantine_ids: Iterable[int] = (),
        input_momentum: float = 0.0,
    ):
        if num_workers < 1:
            raise ValueError(f"num_workers must be >= 1, got {num_workers}")
        if mode not in ("sync", "async"):
            raise ValueError(f"mode must be 'sync' or 'async', got {mode!r}")
        staleness_weight(0, staleness_weighting)  # validates the name
        self.mode = mode
        self.num_workers = num_workers
        self.bound = StalenessBound(0 if mode == "sync" else max_staleness, adaptive_staleness and mode == "async",
                                    adaptive_multiplier)
        self.weighting = staleness_weighting
        self.exp_a = staleness_exp_a
        self.staleness_lr = staleness_lr
        self.buffer_size = buffer_size or (num_workers if mode == "sync" else 1)
        if self.buffer_size > num_workers:
            raise ValueError(f"buffer_size {self.buffer_size} exceeds num_workers {num_workers}")
        if aggregator is None:
            from dist_llm_train.aggregation import make_aggregator

            aggregator = make_aggregator("mean", f=0)
        self.aggregator = aggregator
        self.aggregator.check(self.buffer_size)
        self.momentum = InputMomentum(input_momentum)
        self.intervals = IntervalTracker()
        byz = set(byzantine_ids)
        self.stats = {w: WorkerStats(worker_id=w, byzantine=w in byz) for w in range(num_workers)}
        self.active: set[int] = set(range(num_workers))
        self._pending: dict[int, _Pending] = {}
        # each buffered worker's pending sum is a row of one (K, d) matrix, the very rows the
        # aggregator reads at a flush: no second copy of the buffer (for a 135M-parameter model and
        # K = 5 that is 2.7 GB), and no fresh big allocation per round (they are slow). Rows are
        # handed out in arrival order from 0; a worker dropped before the flush leaves a gap that the
        # flush closes. One vector per *buffered* worker (not per worker of the run) bounds the memory.
        self._slots: list[int] = []  # the buffered workers in row order
        self._offered: set[int] = set()  # workers heard from since the last flush (sync barrier)
        self.flushes = 0
        #: hook run on the stacked rows before aggregation (omniscient attacks in simulation); it may
        #: return {worker: wire bytes of one message it really sent} for the rows it rewrote
        self.pre_aggregate: Callable[[torch.Tensor, list[int]], dict[int, int] | None] | None = None
        self._rows: torch.Tensor | None = None

    # -- admission -------------------------------------------------------------------------------
    def register(self, worker_id: int, now: float = 0.0) -> None:
        if worker_id not in self.stats:
            raise KeyError(f"unknown worker id {worker_id}; this run has workers 0..{self.num_workers - 1}")
        self.active.add(worker_id)
        self.intervals.start(worker_id, now)

    def record_compute(self, worker_id: int, seconds: float) -> None:
        """Time a worker spent computing (the simulator's virtual seconds, or what a real worker reports)."""
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"compute time must be a finite number >= 0, got {seconds}")
        self.stats[worker_id].compute_time += float(seconds)

    def bound_for(self, worker_id: int) -> int:
        return self.bound.bound(self.intervals.ratio(worker_id))

    def offer(
        self,
        worker_id: int,
        update: torch.Tensor | SparseUpdate,
        base_version: int,
        server_version: int,
        n_samples: int = 1,
        now: float | None = None,
        wire_bytes: int = 0,
    ) -> Admission:
        """Admit or reject one decoded update (dense, or sparse from a top-k decoder); accepted ones
        join the buffer. The update is copied into the coordinator's own buffer: the caller may
        reuse its memory afterwards."""
        st = self.stats.get(worker_id)
        if st is None:
            raise KeyError(f"unknown worker id {worker_id}")
        st.submitted += 1
        st.bytes_up += wire_bytes
        self._offered.add(worker_id)
        if now is not None:
            self.intervals.observe(worker_id, now)
        tau = server_version - base_version
        bound = self.bound_for(worker_id)
        if tau < 0:
            return self._reject(st, "future_version", tau, bound)
        st.staleness[tau] += 1
        if tau > bound:
            return self._reject(st, "stale", tau, bound)
        sparse = isinstance(update, SparseUpdate)
        if not all_finite(update.values if sparse else update):
            return self._reject(st, "non_finite", tau, bound)
        w = staleness_weight(tau, self.weighting, self.exp_a)
        p = self._pending.get(worker_id)
        if p is None:
            buf = self._take_row(worker_id, update.shape)
            if sparse:
                update.write_scaled(buf, w)
            else:
                torch.mul(update, w, out=buf)
            self._pending[worker_id] = _Pending(buf, w, 1, n_samples, [tau], wire_bytes)
        else:
            p.wire_bytes += wire_bytes
            if sparse:
                update.add_scaled_to(p.total, w)
            else:
                p.total.add_(update, alpha=w)
            p.weight_sum += w
            p.count += 1
            p.samples += n_samples
            p.staleness.append(tau)
        st.accepted += 1
        st.accepted_staleness[tau] += 1
        st.samples += n_samples
        return Admission(True, tau, bound)

    def _take_row(self, worker_id: int, shape) -> torch.Tensor:
        """The next free row of the buffer matrix for this worker's pending sum (grown, keeping its
        rows, in the rare case more workers are buffered than K)."""
        d = int(shape[0]) if len(shape) else 1
        i = len(self._slots)
        if self._rows is None or self._rows.shape[1] != d or self._rows.shape[0] <= i:
            grown = torch.empty(max(self.buffer_size, 2 * i if i else 0, i + 1), d)
            if self._rows is not None and self._rows.shape[1] == d and i:
                grown[:i].copy_(self._rows[:i])
                for w in self._slots:  # the pending sums now live in the new matrix
                    self._pending[w].total = grown[self._slots.index(w)]
            self._rows = grown
        self._slots.append(worker_id)
        return self._rows[i]

    def _release_row(self, worker_id: int) -> None:
        """Give up a buffered worker's row, moving the last row into the gap so rows stay 0..m-1."""
        i = self._slots.index(worker_id)
        last = len(self._slots) - 1
        if i != last:
            moved = self._slots[last]
            self._rows[i].copy_(self._rows[last])
            self._pending[moved].total = self._rows[i]
            self._slots[i] = moved
        self._slots.pop()

    def record_failure(self, worker_id: int, reason: str) -> None:
        """A worker reported that it could not produce an update (e.g. its gradient was not finite).
        It counts as heard from, so a synchronous barrier is not held up by it."""
        st = self.stats[worker_id]
        st.submitted += 1
        st.rejected[reason] += 1
        self._offered.add(worker_id)

    def refuse(self, worker_id: int, reason: str, base_version: int, server_version: int, wire_bytes: int = 0,
               now: float | None = None) -> Admission:
        """Count an update refused before admission (the server step's guard: an absurd update) as a
        rejection under `reason`; like any answered message it counts as heard from (sync barrier)."""
        st = self.stats[worker_id]
        st.submitted += 1
        st.bytes_up += wire_bytes
        self._offered.add(worker_id)
        if now is not None:
            self.intervals.observe(worker_id, now)
        return self._reject(st, reason, server_version - base_version, self.bound_for(worker_id))

    def _reject(self, st: WorkerStats, reason: str, tau: int, bound: int) -> Admission:
        st.rejected[reason] += 1
        return Admission(False, tau, bound, reason)

    # -- buffer ----------------------------------------------------------------------------------
    @property
    def pending_workers(self) -> list[int]:
        return sorted(self._pending)

    def ready(self) -> bool:
        """Async: K distinct workers are buffered. Sync: every worker of the round has been heard from
        (a rejected update still counts, so one bad message cannot stall the barrier)."""
        need = min(self.buffer_size, max(1, len(self.active)))
        if self.mode == "sync":
            return len(self._offered & self.active) >= need and bool(self._pending)
        return len(self._pending) >= need

    def flush(self) -> FlushResult:
        """Aggregate the buffer: one input per worker (its staleness-weighted mean)."""
        if not self._pending:
            raise RuntimeError("flush() on an empty buffer")
        ids = list(self._slots)  # row order: the order the workers' first updates arrived in
        m = len(ids)
        rows = self._rows[:m]
        weights = []
        taus: list[int] = []
        samples = 0
        messages = {w: (self._pending[w].count, self._pending[w].wire_bytes) for w in ids}
        for i, w in enumerate(ids):
            p = self._pending[w]
            rows[i].div_(p.weight_sum)  # the pending sum is row i already
            weights.append(p.weight_sum / p.count)
            taus.extend(p.staleness)
            samples += p.samples
        self._pending.clear()
        self._slots.clear()
        self._offered.clear()
        rewritten: dict[int, tuple[int, int]] = {}
        if self.pre_aggregate is not None:
            for w, one_message in (self.pre_aggregate(rows, ids) or {}).items():
                count, honest = messages[w]
                sent = count * int(one_message)  # each of its messages carried the crafted update
                self.stats[w].bytes_up += sent - honest
                rewritten[w] = (honest, sent)
        self.momentum.apply(rows, ids)  # after the attack hook: the server averages what it received
        wt = torch.tensor(weights, dtype=torch.float32)
        agg = self.aggregator(rows, wt if self.weighting != "none" else None)
        trust = [float(t) for t in agg.trust.tolist()]
        for w, t in zip(ids, trust):
            st = self.stats[w]
            st.aggregations += 1
            st.trust_sum += t
            if t < FILTER_THRESHOLD:
                st.filtered += 1
        lr_scale = float(sum(weights) / len(weights)) if self.weighting != "none" else 1.0
        if self.staleness_lr:
            lr_scale /= max(1.0, sum(taus) / len(taus))
        self.flushes += 1
        return FlushResult(agg.update, lr_scale, ids, trust, taus, samples, dict(agg.info), rewritten)

    # -- membership (the real runtime drops and re-admits workers) -------------------------------
    def deactivate(self, worker_id: int) -> None:
        self.active.discard(worker_id)
        if worker_id in self._pending:
            self._release_row(worker_id)
            del self._pending[worker_id]
        self.momentum.forget(worker_id)

    def can_aggregate(self) -> bool:
        """Whether the active workers still satisfy the aggregator's precondition."""
        return len(self.active) >= self.aggregator.min_inputs(self.aggregator.f)

    # -- reporting -------------------------------------------------------------------------------
    def summary(self) -> dict:
        return summarize_stats([self.stats[w] for w in sorted(self.stats)], self.flushes)

    def state_dict(self) -> dict:
        return {
            "flushes": self.flushes,
            "intervals": self.intervals.state_dict(),
            "workers": [self.stats[w].to_json() for w in sorted(self.stats)],
        }

    def load_state_dict(self, state: dict) -> None:
        self.flushes = int(state["flushes"])
        self.intervals.load_state_dict(state["intervals"])
        for d in state["workers"]:
            s = WorkerStats.from_json(d)
            self.stats[s.worker_id] = s
        self._pending.clear()
        self._slots.clear()
