"""ServerCore: the parameter server's run state behind the gRPC handlers (no gRPC in here).

It owns one lock around the ParameterServer, coordinator and downlink mirror: pushes, pulls and
drops are serialised, decoding and validation happen outside it. It also runs the state machine
WAITING (too few workers registered) -> RUNNING <-> PAUSED (the aggregator's precondition fails
with the active workers) -> DONE (max_server_steps reached), and triggers checkpoints.
"""

from __future__ import annotations

import json
import logging
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc
import torch

from dist_llm_train.errors import CheckpointError
from dist_llm_train.runtime.grpc import ps_pb2 as pb
from dist_llm_train.runtime.grpc.buffers import ByteBuffers, Snapshots, TensorSlots
from dist_llm_train.runtime.grpc.membership import LivenessPolicy, Membership
from dist_llm_train.runtime.grpc.validation import PushLimits, RateLimiter, Rejected, max_push_bytes
from dist_llm_train.sync.step_guard import StepRefused

log = logging.getLogger("dist_llm_train.grpc.server")

if sys.byteorder != "little":  # the dense wire format is little-endian fp32
    raise ImportError("the gRPC runtime needs a little-endian host")


@dataclass
class PullPayload:
    """A pull's header and its payload as parts sent back to back (e.g. an envelope head and the
    codec's payload view, never joined into one more copy); `release` gives leased buffers back."""

    header: pb.PullHeader
    parts: list | None = None
    release: Callable[[], None] | None = None

    @property
    def nbytes(self) -> int:
        return sum(memoryview(p).nbytes for p in self.parts or ())

    def close(self) -> None:
        if self.release is not None:
            self.release()
            self.release = None


class ServerCore:
    def __init__(self, server, decode: Callable[..., torch.Tensor], *, num_workers: int,
                 max_server_steps: int, policy: LivenessPolicy | None = None, min_workers: int | None = None,
                 downlink=None, checkpoints=None, checkpoint_every_steps: int | None = None,
                 checkpoint_every_seconds: float | None = None, push_rate: float = 50.0,
                 evaluate: Callable[[torch.Tensor], dict] | None = None, eval_every: int = 0,
                 on_event: Callable[[dict], None] | None = None, clock=time.time, decode_slots: int = 2,
                 decode_sparse: Callable[..., tuple | None] | None = None,
                 decode_stream: Callable[..., tuple | None] | None = None):
        if server.coordinator is None:
            raise ValueError("ServerCore needs a ParameterServer with a coordinator")
        self.server = server
        self.coord = server.coordinator
        self.decode = decode  # decode(data, out) -> dense fp32 update, written into `out`
        self.decode_sparse = decode_sparse  # decode_sparse(data) -> (indices, values), or None: no sparse form
        self.decode_stream = decode_stream  # decode_stream(head, out) -> (StreamDecoder, head length), or None
        self.num_workers = num_workers
        self.max_server_steps = max_server_steps
        self.min_workers = min_workers or num_workers
        self.downlink = downlink
        self.checkpoints = checkpoints
        self.ckpt_every_steps = checkpoint_every_steps
        self.ckpt_every_seconds = checkpoint_every_seconds
        self.evaluate = evaluate
        self.eval_every = eval_every
        self.on_event = on_event
        self.clock = clock
        self.session = secrets.token_hex(8)
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.coord.active.clear()  # nobody is active until they register with this server
        self.membership = Membership(self.coord, policy or LivenessPolicy())
        self.limits = PushLimits(server.numel, max_push_bytes(server.numel))
        self.rate = RateLimiter(push_rate, burst=max(2.0, push_rate))
        self.state = pb.WAITING
        self.message = f"waiting for workers (0 of {self.min_workers} registered)"
        self.replica_seq: dict[int, int] = {}
        self.told_done: set[int] = set()  # workers that have heard that training is over
        self.bytes_received = 0
        self.refused: dict[str, int] = {}
        self._refused_lock = threading.Lock()  # not the core's lock: a refusal must never wait for a step
        self.curve: list[dict] = []
        # reused payload buffers: what pushes are received into and decoded into, and the fp32
        # snapshots full pulls stream from (one copy per version, shared by every puller)
        self.receive_buffers = ByteBuffers(keep=4)
        self.decode_slots = TensorSlots(server.numel, slots=decode_slots)
        # slots for pushes decoded while they arrive: apart from decode_slots, because a slow sender
        # holds its slot for its whole upload, and a push that finds none free is received whole
        self.stream_slots = TensorSlots(server.numel, slots=decode_slots)
        self.snapshots = Snapshots(keep=3)
        self._last_ckpt_time = clock()
        self._ckpt_thread: threading.Thread | None = None
        self._eval_thread: threading.Thread | None = None
        self.last_checkpoint: str | None = None
        self.saved_version: int | None = None  # the version of the newest checkpoint written (or resumed from)
        #: why the run must stop (a checkpoint that could not be written): the server process exits non-zero
        self.failure: str | None = None
        if server.version >= max_server_steps:  # resumed from a checkpoint at or past the end
            with self.lock:
                self._set_state(pb.DONE, f"training finished at version {server.version} (max_server_steps "
                                         f"{max_server_steps}; raise it to train further)")

    # -- events and state ------------------------------------------------------------------------
    def emit(self, kind: str, **fields) -> None:
        if self.on_event is not None:
            self.on_event({"time": round(self.clock(), 3), "event": kind, **fields})

    def _set_state(self, state: int, message: str) -> None:
        if state != self.state or message != self.message:
            self.state, self.message = state, message
            self.membership.set_running(state == pb.RUNNING, self.clock())
            log.info("state %s: %s", pb.RunState.Name(state), message)
            self.emit("state", state=pb.RunState.Name(state), message=message)
            self.changed.notify_all()

    def _reassess(self) -> None:
        """Recompute WAITING / RUNNING / PAUSED after the set of active workers changed."""
        if self.state == pb.DONE:
            return
        n_active = len(self.coord.active)
        if self.state == pb.WAITING and n_active < self.min_workers:
            self._set_state(pb.WAITING, f"waiting for workers ({n_active} of {self.min_workers} registered)")
        elif not self.coord.can_aggregate():
            agg = self.coord.aggregator
            need = agg.min_inputs(agg.f)
            self._set_state(pb.PAUSED, f"training paused: {n_active} active workers, but {agg.name or 'the rule'} "
                                       f"with f = {agg.f} needs {need}; restart the dropped workers "
                                       f"({sorted(self.membership.dropped)}) or start more")
        else:
            self._set_state(pb.RUNNING, f"running with {n_active} workers")
            if self.coord.pending_workers and self.coord.ready():  # a drop may complete a sync round
                self._step(self.coord.flush())

    # -- calls -----------------------------------------------------------------------------------
    def register(self, worker_id: int, host: str) -> None:
        if not 0 <= worker_id < self.num_workers:
            raise Rejected(grpc.StatusCode.INVALID_ARGUMENT,
                           f"worker id {worker_id} is outside this run's workers 0..{self.num_workers - 1}")
        with self.lock:
            self.membership.register(worker_id, self.clock(), host)
            self.replica_seq.pop(worker_id, None)
            if self.downlink is not None:
                self.downlink.forget(worker_id)
            self.emit("register", worker=worker_id, host=host)
            self._reassess()

    def ensure_member(self, worker_id: int) -> None:
        if not self.membership.is_member(worker_id):
            why = self.membership.dropped.get(worker_id, "not registered with this server")
            raise Rejected(grpc.StatusCode.ABORTED, f"worker {worker_id} must register again ({why})")

    def heartbeat(self, worker_id: int, phase: str) -> pb.HeartbeatReply:
        with self.lock:
            self.ensure_member(worker_id)
            self.membership.seen(worker_id, self.clock(), phase)
            if self.state == pb.DONE:
                self.told_done.add(worker_id)
            return pb.HeartbeatReply(version=self.server.version, state=self.state, message=self.message,
                                     interval=self.membership.policy.heartbeat_interval)

    def pull(self, worker_id: int, req) -> PullPayload:
        """Wait for the state and version the worker asks for, then its payload (call close() on it
        when the payload has been sent)."""
        deadline = time.monotonic() + max(0.0, min(req.wait_seconds, 60.0))
        with self.changed:
            self.ensure_member(worker_id)
            self.membership.waiting(worker_id, self.clock())
            while self.state != pb.DONE and (self.state != pb.RUNNING or self.server.version < req.min_version):
                left = deadline - time.monotonic()
                if left <= 0:
                    return PullPayload(pb.PullHeader(kind=pb.NOT_READY, version=self.server.version,
                                                     state=self.state, message=self.message), None)
                self.changed.wait(left)
                self.ensure_member(worker_id)
            if self.state == pb.DONE:
                self.told_done.add(worker_id)
                return PullPayload(pb.PullHeader(kind=pb.FINISHED, version=self.server.version, state=self.state,
                                                 message=self.message), None)
            self.membership.pulled(worker_id, self.clock())
            t0 = time.perf_counter()
            version = self.server.version
            dl = self.downlink
            if dl is not None and req.want_delta and dl.has_replica(worker_id) \
                    and req.replica_seq == self.replica_seq.get(worker_id):
                enc, _ = dl.encode_for(worker_id, self.server.params)
                payload = PullPayload(pb.PullHeader(kind=pb.DELTA, codec=enc.spec), [enc.head(), enc.payload])
                self.replica_seq[worker_id] += 1
            else:
                snap = self._dense_snapshot()
                payload = PullPayload(pb.PullHeader(kind=pb.FULL, codec="fp32"), [snap.view], snap.release)
                if dl is not None:
                    dl.start(worker_id, self.server.params)
                self.replica_seq[worker_id] = self.replica_seq.get(worker_id, 0) + 1_000_000
            nbytes = payload.nbytes
            self.coord.stats[worker_id].bytes_down += nbytes
            h = payload.header
            h.version, h.numel, h.total_bytes = version, self.server.numel, nbytes
            h.replica_seq, h.state = self.replica_seq[worker_id], self.state
            h.server_seconds = time.perf_counter() - t0
            return payload

    def _dense_snapshot(self):
        """Raw fp32 parameters of this version, copied once into a reused buffer and shared by every
        full pull of the version; a later version never overwrites a buffer a stream still reads."""
        params = self.server.params

        def fill(view: memoryview) -> None:
            torch.frombuffer(view, dtype=torch.float32).copy_(params)

        return self.snapshots.acquire(("fp32", self.server.version), 4 * self.server.numel, fill)

    def admit_push(self, worker_id: int) -> int:
        """Checks before the payload is read; returns the server version to validate against.

        Without the core's lock: another worker's push may hold it for a whole server step (0.7 s
        at 124M parameters), and this push should be receiving and decoding meanwhile, not
        queueing. Both reads are single atomic lookups, the version only grows (so a base version
        the worker pulled is never above what is read here), and push() checks membership again
        under the lock before anything is applied.
        """
        self.rate.check(worker_id)
        self.ensure_member(worker_id)
        return self.server.version

    def push(self, worker_id: int, header, update: torch.Tensor, wire_bytes: int,
             decode_seconds: float = 0.0) -> pb.PushReply:
        """Hand a validated, decoded update to the coordinator. `update` may be a leased buffer: the
        coordinator copies what it keeps before this returns."""
        with self.lock:
            t0 = time.perf_counter()
            self.ensure_member(worker_id)
            if self.state == pb.DONE:
                self.bytes_received += wire_bytes
                self.told_done.add(worker_id)
                return pb.PushReply(accepted=False, reason="finished", version=self.server.version, state=self.state)
            if self.state != pb.RUNNING:
                raise Rejected(grpc.StatusCode.FAILED_PRECONDITION, self.message)
            self.bytes_received += wire_bytes  # every push answered OK, so workers can check the count
            now = self.clock()
            self.membership.pushed(worker_id, now)
            res = self.server.submit(update, header.base_version, worker_id, header.n_samples, now=now,
                                     wire_bytes=wire_bytes, compute_seconds=header.compute_seconds)
            adm, stepped = res.admission, res.flushed is not None
            self.emit("push", worker=worker_id, base=header.base_version, staleness=adm.staleness,
                      accepted=adm.accepted, reason=adm.reason, bytes=wire_bytes, loss=round(header.loss, 5))
            if stepped:
                self._after_step(res.flushed)
            elif res.refused_step is not None:
                self.emit("step_refused", version=self.server.version, reason=res.refused_step)
            # the step's aggregate is a fresh vector (0.5 GB at 124M parameters) whose unmapping takes
            # ~15 ms: drop it here, inside the step's own time, not after its clock stopped
            del res
            if self.state == pb.DONE:
                self.told_done.add(worker_id)
            return pb.PushReply(accepted=adm.accepted, reason=adm.reason or "", staleness=adm.staleness,
                                bound=adm.bound, version=self.server.version, stepped=stepped,
                                state=self.state, bytes_received=wire_bytes, decode_seconds=decode_seconds,
                                step_seconds=time.perf_counter() - t0)

    def _step(self, flushed) -> None:
        try:
            self.server.apply(flushed.update, flushed.lr_scale)
        except StepRefused as exc:  # the guard kept the state as it was; training goes on with the next updates
            log.warning("server step %d refused: %s", self.server.version + 1, exc)
            self.emit("step_refused", version=self.server.version, reason=str(exc))
            return
        self._after_step(flushed)

    def _after_step(self, flushed) -> None:
        v = self.server.version
        self.emit("step", version=v, workers=flushed.worker_ids, lr=self.server.last_lr)
        if self.eval_every and v % self.eval_every == 0:
            self._start_eval()
        if self.ckpt_every_steps and v % self.ckpt_every_steps == 0:
            self._start_checkpoint()
        if v >= self.max_server_steps:
            self._set_state(pb.DONE, f"training finished at version {v}")
        self.changed.notify_all()

    # -- background work -------------------------------------------------------------------------
    def tick(self) -> None:
        """Drop workers past their deadlines and take time-based checkpoints (called periodically)."""
        with self.lock:
            now = self.clock()
            expired = self.membership.expired(now)
            for wid, why in expired:
                self.membership.drop(wid, why)
                self.replica_seq.pop(wid, None)
                log.warning("dropped worker %d: %s", wid, why)
                self.emit("drop", worker=wid, reason=why)
            if expired:
                self._reassess()
            if self.ckpt_every_seconds and now - self._last_ckpt_time >= self.ckpt_every_seconds:
                self._start_checkpoint()

    def _start_checkpoint(self) -> None:
        if self.checkpoints is None or self.failure is not None \
                or (self._ckpt_thread is not None and self._ckpt_thread.is_alive()):
            return
        self._last_ckpt_time = self.clock()
        try:
            snap = self.checkpoints.snapshot(self.server, self.coord, extra={"curve": self.curve[-50:]})
        except CheckpointError as exc:
            self._checkpoint_failed(exc)
            return
        self._ckpt_thread = threading.Thread(target=self._write_checkpoint, args=(snap,), daemon=True,
                                             name="checkpoint")
        self._ckpt_thread.start()

    def _write_checkpoint(self, snap) -> None:
        try:
            path = self.checkpoints.write(snap)
        except CheckpointError as exc:
            self._checkpoint_failed(exc)
            return
        self.last_checkpoint = str(path)
        self.saved_version = snap.version
        self.emit("checkpoint", version=snap.version, path=str(path))

    def _checkpoint_failed(self, exc: Exception) -> None:
        """A run whose state cannot be saved must not go on as if it were: record why, so the server
        process stops training and exits non-zero (the last good checkpoint stays as it was)."""
        if self.failure is None:
            self.failure = str(exc)
        log.error("%s", exc)
        self.emit("checkpoint_failed", message=str(exc))

    def start_eval(self) -> None:
        with self.lock:
            self._start_eval()

    def _start_eval(self) -> None:
        if self.evaluate is None or (self._eval_thread is not None and self._eval_thread.is_alive()):
            return
        params, version = self.server.params.clone(), self.server.version
        self._eval_thread = threading.Thread(target=self._run_eval, args=(params, version), daemon=True,
                                             name="eval")
        self._eval_thread.start()

    def _run_eval(self, params: torch.Tensor, version: int) -> None:
        metrics = self.evaluate(params)
        point = {"step": version, **metrics}
        with self.lock:
            self.curve.append(point)
        self.emit("eval", **point)

    def count_refusal(self, code_name: str) -> None:
        with self._refused_lock:
            self.refused[code_name] = self.refused.get(code_name, 0) + 1

    def all_told_done(self) -> bool:
        with self.lock:
            return set(self.membership.members) <= self.told_done

    def finish(self, timeout: float = 600.0) -> None:
        """Wait for background work and write the final checkpoint (and evaluation)."""
        for t in (self._ckpt_thread, self._eval_thread):
            if t is not None:
                t.join(timeout)
        if self.evaluate is not None and (not self.curve or self.curve[-1]["step"] != self.server.version):
            self._run_eval(self.server.params.clone(), self.server.version)
        if self.checkpoints is not None and self.failure is None and self.saved_version != self.server.version:
            with self.lock:
                try:
                    snap = self.checkpoints.snapshot(self.server, self.coord, extra={"curve": self.curve[-50:]})
                except CheckpointError as exc:
                    self._checkpoint_failed(exc)
                    return
            self._write_checkpoint(snap)

    def status(self) -> dict:
        with self.lock:
            summary = self.coord.summary()
            return {
                "session": self.session,
                "version": self.server.version,
                "state": pb.RunState.Name(self.state),
                "message": self.message,
                "active": sorted(self.coord.active),
                "dropped": {str(k): v for k, v in self.membership.dropped.items()},
                "bytes_received": self.bytes_received,
                "refused": self._refused_copy(),
                "last_checkpoint": self.last_checkpoint,
                "failure": self.failure,
                "guard": dict(self.server.guard.refused),
                "curve": list(self.curve),
                **{k: v for k, v in summary.items() if k != "filtering"},
            }

    def _refused_copy(self) -> dict[str, int]:
        with self._refused_lock:
            return dict(self.refused)

    def status_json(self) -> str:
        return json.dumps(self.status())

