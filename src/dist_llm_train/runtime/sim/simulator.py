"""Simulator: a discrete-event loop over virtual time around the real algorithm core.

Gradients are computed for real (the model really trains); only time is simulated. A worker's
round is: pull (download time from the bytes it receives over its link), compute (time from its
hardware profile and the model's FLOPs), push (upload time from the exact wire bytes of its
encoded update). The server admits the update through the coordinator and, when the buffer is
full, aggregates and steps (aggregation time from the bytes it touches); while it aggregates the
server is busy, and pulls and pushes that reach it wait until it is free. Same seed, same event
log, same parameters.

The worker's computation is executed when its pull is processed: its result depends only on the
parameters it pulled and its own data, so running it early and delivering it at the simulated
arrival time is exact.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from dist_llm_train.network.topology import Topology
from dist_llm_train.runtime.sim.events import EventQueue
from dist_llm_train.sync.coordinator import all_finite
from dist_llm_train.sync.parameter_server import ParameterServer
from dist_llm_train.worker.worker_logic import UpdateMessage, WorkerLogic

#: effective memory bandwidth of the server when aggregating (bytes/s); rules scale it by their cost
SERVER_BYTES_PER_SECOND = 5e9
#: size of a pull reply that says "you already have the current version" (version number + header)
NOT_MODIFIED_BYTES = 16


@dataclass
class SimResult:
    virtual_time: float
    wall_time: float
    server_steps: int
    stopped_by: str
    curve: list[dict]
    wall_breakdown: dict
    worker_compute_time: list[float]

    def utilization(self) -> list[float]:
        if self.virtual_time <= 0:
            return [0.0 for _ in self.worker_compute_time]
        return [c / self.virtual_time for c in self.worker_compute_time]


@dataclass
class SimOptions:
    max_server_steps: int
    virtual_time_budget: float | None = None
    target_loss: float | None = None
    max_samples: int | None = None
    eval_every: int = 50
    flops_per_token: float = 0.0  # 6 x parameters for a forward + backward
    max_wall_seconds: float | None = None
    pull_policy: str = "fresh"
    stall_limit: int = 200  # arrivals without a server step (per worker) before the run is declared stalled
    checkpoint_every_steps: int | None = None  # server steps between checkpoints
    checkpoint_every_seconds: float | None = None  # wall seconds between checkpoints (bounds the work a crash loses)
    extra: dict = field(default_factory=dict)


class Simulator:
    def __init__(
        self,
        server: ParameterServer,
        workers: list[WorkerLogic],
        topology: Topology,
        decode: Callable[[bytes], torch.Tensor],
        options: SimOptions,
        evaluate: Callable[[torch.Tensor], dict] | None = None,
        downlink=None,
        dense_down_bytes: int | None = None,
        event_log=None,
        seed: int = 0,
        on_eval: Callable[[dict], None] | None = None,
        checkpoint: Callable[[Simulator], None] | None = None,
        resume: dict | None = None,
    ):
        """`checkpoint(sim)` is called after a server step whenever one is due by the options, and once
        at the end; it reads `sim.state()`. `resume` is such a state (from a checkpoint): the clock,
        counters and curve continue from it, and every worker starts with a full pull of the
        restored parameters, as real workers do when they reconnect to a restarted server."""
        if server.coordinator is None:
            raise ValueError("the simulator needs a ParameterServer with a coordinator")
        if len(workers) != len(topology):
            raise ValueError(f"{len(workers)} workers but the topology has {len(topology)} links")
        self.server = server
        self.coord = server.coordinator
        self.workers = workers
        self.topology = topology
        self.decode = decode
        self.opt = options
        self.evaluate = evaluate
        if downlink is not None:
            server.downlink = downlink  # the server answers pulls with deltas through this mirror
        self.downlink = server.downlink
        self.dense_down_bytes = dense_down_bytes if dense_down_bytes is not None else 4 * server.numel + 32
        self.log = event_log
        self.on_eval = on_eval
        self.rngs = [random.Random(seed * 1_000_003 + i) for i in range(len(workers))]
        self.queue = EventQueue()
        self.now = 0.0
        self.samples_applied = 0
        self.samples_processed = 0
        self.compute_time = [0.0] * len(workers)
        self.last_base = [-1] * len(workers)
        self.have_version = [-1] * len(workers)  # the version each worker's replica holds
        self.waiting: list[int] = []
        self.curve: list[dict] = []
        self.wall = {"compute": 0.0, "encode": 0.0, "decode": 0.0, "aggregate": 0.0, "eval": 0.0, "downlink": 0.0}
        self.train_loss_ema: float | None = None
        self.arrivals_since_step = 0
        self.server_free_at = 0.0  # the server aggregates one buffer at a time; it serves nobody meanwhile
        self.checkpoint = checkpoint
        self._last_ckpt_step = server.version
        self._last_ckpt_wall = time.perf_counter()
        self.resumed_from_step: int | None = None
        if resume is not None:
            self._restore(resume)

    # -- checkpoint state ------------------------------------------------------------------------
    def state(self) -> dict:
        """The simulator's own facts a resume needs (JSON); the server and coordinator save theirs."""
        return {"virtual_time": self.now, "samples_applied": self.samples_applied,
                "samples_processed": self.samples_processed, "compute_time": list(self.compute_time),
                "train_loss_ema": self.train_loss_ema, "curve": self.curve}

    def _restore(self, state: dict) -> None:
        n = len(self.workers)
        if len(state.get("compute_time", [])) != n:
            raise ValueError(f"the checkpoint is of a run with {len(state.get('compute_time', []))} workers, this "
                             f"configuration has {n}: resume with the configuration that wrote it")
        self.now = self.server_free_at = float(state["virtual_time"])
        self.samples_applied = int(state["samples_applied"])
        self.samples_processed = int(state["samples_processed"])
        self.compute_time = [float(c) for c in state["compute_time"]]
        self.train_loss_ema = state.get("train_loss_ema")
        self.curve = list(state.get("curve", []))
        self.resumed_from_step = self._last_ckpt_step = self.server.version

    def _maybe_checkpoint(self, final: bool = False) -> None:
        if self.checkpoint is None:
            return
        steps, secs = self.opt.checkpoint_every_steps, self.opt.checkpoint_every_seconds
        due = final and self.server.version != self._last_ckpt_step
        due |= steps is not None and self.server.version - self._last_ckpt_step >= steps
        due |= secs is not None and time.perf_counter() - self._last_ckpt_wall >= secs
        if due:
            self.checkpoint(self)
            self._last_ckpt_step = self.server.version
            self._last_ckpt_wall = time.perf_counter()
            self._emit("checkpoint", version=self.server.version)

    # -- helpers ---------------------------------------------------------------------------------
    def _emit(self, kind: str, **fields) -> None:
        if self.log is not None:
            self.log.write({"t": round(self.now, 9), "event": kind, **fields})

    def _request_time(self, w: int) -> float:
        """A pull request's trip up to the server (latency and jitter; its bytes are negligible)."""
        return self.topology[w].transfer_time(0, "up", self.rngs[w])

    def _aggregation_time(self, k: int) -> float:
        cost = getattr(self.coord.aggregator, "cost_factor", 1.0)
        return cost * k * self.server.numel * 4 / SERVER_BYTES_PER_SECOND

    def _totals(self) -> tuple[int, int]:
        st = self.coord.stats.values()
        return sum(s.bytes_up for s in st), sum(s.bytes_down for s in st)

    def _eval_point(self) -> dict | None:
        if self.evaluate is None:
            return None
        t0 = time.perf_counter()
        metrics = self.evaluate(self.server.params)
        self.wall["eval"] += time.perf_counter() - t0
        up, down = self._totals()
        point = {
            "step": self.server.version,
            "virtual_time": self.now,
            "samples": self.samples_applied,
            "samples_processed": self.samples_processed,
            "bytes_up": up,
            "bytes_down": down,
            "train_loss": self.train_loss_ema,
            **metrics,
        }
        self.curve.append(point)
        self._emit("eval", **{k: v for k, v in point.items() if k != "virtual_time"})
        if self.on_eval is not None:
            self.on_eval(point)
        return point

    # -- the loop --------------------------------------------------------------------------------
    def run(self) -> SimResult:
        t_start = time.perf_counter()
        for w in range(len(self.workers)):
            self.coord.register(w, self.now)
            self.queue.push(self.now + self._request_time(w), "pull", w)
        if self.resumed_from_step is None or not self.curve or self.curve[-1]["step"] != self.server.version:
            self._eval_point()
        stopped_by = "events_exhausted"
        while len(self.queue):
            ev = self.queue.pop()
            if self.opt.virtual_time_budget is not None and ev.time > self.opt.virtual_time_budget:
                self.now = self.opt.virtual_time_budget
                stopped_by = "virtual_time_budget"
                break
            if ev.time < self.server_free_at:
                # the server is busy aggregating: this pull or push waits in its queue until it is free
                self.queue.push(self.server_free_at, ev.kind, ev.worker, ev.payload)
                continue
            self.now = ev.time
            if ev.kind == "pull":
                self._on_pull(ev.worker)
            else:
                reason = self._on_arrive(ev.worker, ev.payload)
                if reason:
                    stopped_by = reason
                    break
            if self.opt.max_wall_seconds and time.perf_counter() - t_start > self.opt.max_wall_seconds:
                stopped_by = "max_wall_seconds"
                break
        if not self.curve or self.curve[-1]["step"] != self.server.version:
            self._eval_point()
        self._maybe_checkpoint(final=True)
        return SimResult(
            virtual_time=self.now,
            wall_time=time.perf_counter() - t_start,
            server_steps=self.server.version,
            stopped_by=stopped_by,
            curve=self.curve,
            wall_breakdown=dict(self.wall),
            worker_compute_time=list(self.compute_time),
        )

    def _on_pull(self, w: int) -> None:
        version = self.server.version
        fresh_only = self.coord.mode == "sync" or self.opt.pull_policy == "fresh"
        if fresh_only and version <= self.last_base[w]:
            self.waiting.append(w)  # wait for a version newer than the one this worker already used
            return
        link = self.topology[w]
        t0 = time.perf_counter()
        known = self.have_version[w]
        reply = self.server.pull(known if known >= 0 else None, worker_id=w)
        params = reply.params
        if reply.kind == "not_modified":
            nbytes = NOT_MODIFIED_BYTES  # nothing changed since this worker's last pull
        elif reply.kind == "delta":
            nbytes = reply.encoded.wire_bytes
        else:
            nbytes = self.dense_down_bytes
        self.wall["downlink"] += time.perf_counter() - t0
        self.have_version[w] = version
        self.coord.stats[w].bytes_down += nbytes
        t_down = link.transfer_time(nbytes, "down", self.rngs[w])
        t0 = time.perf_counter()
        worker = self.workers[w]
        update, metrics = worker.compute_update(params)
        t1 = time.perf_counter()
        if worker.attack is not None and not worker.attack.omniscient and not worker.attack.poisons_data:
            update = worker.attack.apply(update, worker.attack_ctx)
        t_compute = link.compute_time(self.opt.flops_per_token * metrics["tokens"])
        self.compute_time[w] += t_compute
        self.coord.record_compute(w, t_compute)
        self.samples_processed += metrics["samples"]
        self.wall["compute"] += t1 - t0
        if not all_finite(update):
            # a diverged worker: nothing is sent; it is counted and tries again on fresh parameters
            self.coord.record_failure(w, "non_finite_local")
            if self.coord.mode == "sync":
                self.last_base[w] = version  # heard from for this round: wait for the next version
            self._emit("nonfinite", worker=w, version=version)
            self.arrivals_since_step += 1
            if self.arrivals_since_step > self.opt.stall_limit * len(self.workers):
                raise RuntimeError(
                    "training stalled: workers keep producing non-finite updates (diverged); lower the learning "
                    "rate or enable clipping (worker.clip_norm)")
            self.queue.push(self.now + t_down + t_compute + self._request_time(w), "pull", w)
            return
        enc = worker.encoder.encode(update)
        self.wall["encode"] += time.perf_counter() - t1
        msg = UpdateMessage(w, version, enc, metrics["samples"], metrics)
        t_up = link.transfer_time(enc.wire_bytes, "up", self.rngs[w])
        self.last_base[w] = version
        self._emit("pull", worker=w, version=version, bytes_down=nbytes, t_down=round(t_down, 9),
                   t_compute=round(t_compute, 9), t_up=round(t_up, 9))
        self.queue.push(self.now + t_down + t_compute + t_up, "arrive", w, msg)

    def _on_arrive(self, w: int, msg: UpdateMessage) -> str | None:
        data = msg.encoded.to_bytes()
        t0 = time.perf_counter()
        update = self.decode(data)
        t1 = time.perf_counter()
        self.wall["decode"] += t1 - t0
        res = self.server.submit(update, msg.base_version, w, msg.n_samples, now=self.now, wire_bytes=len(data))
        self.wall["aggregate"] += time.perf_counter() - t1
        loss = msg.metrics.get("loss")
        if loss is not None and res.admission.accepted and not self.workers[w].byzantine:
            self.train_loss_ema = loss if self.train_loss_ema is None else 0.9 * self.train_loss_ema + 0.1 * loss
        adm = res.admission
        if not adm.accepted:
            self.last_base[w] = -1  # a rejected worker recomputes at once instead of waiting for a step
        self._emit("push", worker=w, base=msg.base_version, staleness=adm.staleness, bound=adm.bound,
                   accepted=adm.accepted, reason=adm.reason, bytes_up=len(data), loss=loss)
        delay = 0.0
        self.arrivals_since_step += 1
        if res.flushed is None and self.arrivals_since_step > self.opt.stall_limit * len(self.workers):
            return "stalled"
        if res.flushed is not None:
            self.arrivals_since_step = 0
            fl = res.flushed
            self.samples_applied += fl.samples
            delay = self._aggregation_time(len(fl.worker_ids))
            self.server_free_at = self.now + delay
            for bw, (honest, sent) in sorted(fl.rewritten_bytes.items()):
                # an omniscient attacker's message is crafted now: its bytes replace the honest ones
                self._emit("attack", worker=bw, honest_bytes=honest, bytes_up=sent - honest)
            self._emit("step", version=res.version, workers=fl.worker_ids,
                       trust=[round(t, 6) for t in fl.trust], lr=self.server.last_lr, t_agg=round(delay, 9))
            if self.opt.eval_every and res.version % self.opt.eval_every == 0:
                point = self._eval_point()
                if (point is not None and self.opt.target_loss is not None
                        and point.get("loss", float("inf")) <= self.opt.target_loss):
                    return "target_loss"
            self._maybe_checkpoint()  # after this step's evaluation, so the saved curve includes it
            if res.version >= self.opt.max_server_steps:
                return "max_server_steps"
            if self.opt.max_samples is not None and self.samples_processed >= self.opt.max_samples:
                return "max_samples"
            for waiting in self.waiting:
                self.queue.push(self.now + delay, "pull", waiting)
            self.waiting.clear()
        # the push's reply travels back, then the worker's next pull request travels up: every call
        # of the real runtime is a request and a reply, so a round pays the latency both ways twice
        # (waiting workers are already parked at the server in a long poll and pay nothing extra)
        ack = self.topology[w].transfer_time(0, "down", self.rngs[w])
        self.queue.push(self.now + delay + ack + self._request_time(w), "pull", w)
        return None
