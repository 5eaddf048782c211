"""One worker process: register, then pull -> local steps -> push until the server says done.

The worker holds a replica of the parameters: a full fp32 copy on the first pull, then (when the
run compresses the downlink) compressed deltas that it adds, in step with the server's mirror of
it; the client applies each pull to the replica as it arrives, all or nothing (replica.py). It
survives the server restarting (it registers again and pulls a full copy), being dropped (same),
and transport failures (the client retries with backoff). A heartbeat thread tells the server it
is alive while it computes.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc

from dist_llm_train.config import load_config
from dist_llm_train.errors import ConfigError
from dist_llm_train.runtime.grpc import ps_pb2 as pb
from dist_llm_train.runtime.grpc.client import MustRegister, WorkerClient
from dist_llm_train.runtime.grpc.replica import Replica

log = logging.getLogger("dist_llm_train.grpc.worker")

#: rounds kept in the report (it is rewritten after every push, so it must stay small)
MAX_ROUNDS = 500


@dataclass
class WorkerReport:
    worker_id: int
    pushes: int = 0
    accepted: int = 0
    rejected: dict = field(default_factory=dict)
    refused: dict = field(default_factory=dict)
    bytes_pushed: int = 0  # every push the server answered
    bytes_offered: int = 0  # pushes that reached the coordinator (not the ones after training ended)
    registrations: int = 0
    last_version: int = -1
    losses: list = field(default_factory=list)
    # per round (the last MAX_ROUNDS): wall seconds of the pull call, the local steps + encoding, the push
    # call, and the bytes each way; what the shaped-link benchmark compares with the simulator
    rounds: list = field(default_factory=list)

    def to_json(self) -> dict:
        return dict(self.__dict__)


class WorkerProcess:
    def __init__(self, client: WorkerClient, build: Callable[..., object],  # (cfg, worker_id, server_version=)
                 pull_wait: float = 10.0, max_pushes: int | None = None, report_path=None):
        self.client = client
        self.build = build
        self.pull_wait = pull_wait
        self.max_pushes = max_pushes
        self.report = WorkerReport(client.worker_id)
        self.parts = None
        self.reg: pb.RegisterReply | None = None
        self.phase = "start"
        self._stop = threading.Event()
        self._replica: Replica | None = None  # the parameters and a spare vector, made once the model is built
        self._replica_seq = 0
        self._hb: threading.Thread | None = None
        self.report_path = report_path

    # -- registration and heartbeats -------------------------------------------------------------
    def _register(self) -> None:
        self.reg = self.client.register()
        self.report.registrations += 1
        self._replica_seq = 0  # the server forgot our mirror: start from a full copy
        if self._replica is not None:
            self._replica.forget()
        if self._hb is None:  # heartbeats start before the (slow) model and data build
            self._hb = threading.Thread(target=self._heartbeats, daemon=True, name="heartbeat")
            self._hb.start()
        if self.parts is None:
            self.phase = "build"
            cfg = load_config(json.loads(self.reg.run_config_json))
            self.cfg = cfg
            self.parts = self.build(cfg, self.client.worker_id, server_version=self.reg.version)
        from dist_llm_train.runtime.grpc.assembly import layout_sha256

        if self._replica is None:
            self._replica = Replica(self.parts.layout.numel, self.parts.layout)
        if layout_sha256(self.parts.layout) != self.reg.layout_sha256:
            raise ConfigError("this worker's model has a different parameter layout than the server's: "
                              "check that both run the same dist-llm-train version and model files")
        log.info("worker %d registered (session %s, version %d, state %s)", self.client.worker_id,
                 self.reg.session, self.reg.version, pb.RunState.Name(self.reg.state))

    def _heartbeats(self) -> None:
        while not self._stop.wait(self.reg.heartbeat_interval if self.reg else 1.0):
            try:
                self.client.heartbeat(self.phase)
            except grpc.RpcError as err:
                log.debug("heartbeat: %s", err.code().name)

    # -- the loop --------------------------------------------------------------------------------
    def run(self) -> WorkerReport:
        self._register()
        sync = self.cfg.sync.mode == "sync"
        min_version = 0
        try:
            while self.max_pushes is None or self.report.pushes < self.max_pushes:
                try:
                    self.phase = "pull"
                    want_delta = bool(self.reg.downlink_codec) and self._replica.params is not None
                    started, t_pull = time.time(), time.perf_counter()
                    pulled = self.client.pull(min_version, want_delta, self._replica_seq, self.pull_wait,
                                              into=self._replica)
                    t_pull = time.perf_counter() - t_pull
                    if pulled.kind == pb.FINISHED:
                        log.info("worker %d: %s", self.client.worker_id, pulled.message)
                        break
                    if pulled.kind == pb.NOT_READY:
                        self.phase = "idle"
                        continue
                    pulled_bytes = pulled.nbytes
                    self._replica_seq = pulled.replica_seq
                    self.phase = "compute"
                    t0 = time.perf_counter()
                    msg = self.parts.logic.run(self._replica.params, pulled.version)
                    seconds = time.perf_counter() - t0
                    self.phase = "push"
                    enc = msg.encoded
                    loss = float(msg.metrics.get("loss", 0.0))
                    t_push = time.perf_counter()
                    reply = self.client.push([enc.head(), enc.payload], pulled.version, msg.n_samples, loss, seconds,
                                             chunk_bytes=int(self.reg.chunk_bytes))
                    t_push = time.perf_counter() - t_push
                    self.report.rounds.append({
                        "t": round(started, 3), "version": pulled.version, "pull_kind": pb.PullKind.Name(pulled.kind),
                        "pull_s": round(t_pull, 6), "pull_bytes": pulled_bytes, "compute_s": round(seconds, 6),
                        "push_s": round(t_push, 6), "push_bytes": enc.wire_bytes})
                    del self.report.rounds[:-MAX_ROUNDS]
                    self._count(reply, enc.wire_bytes, loss)
                    min_version = pulled.version + 1 if sync else 0
                    if reply.state == pb.DONE:
                        break
                except MustRegister as exc:
                    log.warning("worker %d: %s", self.client.worker_id, exc)
                    self._register()
                    min_version = 0
                except grpc.RpcError as err:
                    self._refused(err)
        finally:
            self._stop.set()
            self.phase = "done"
            if self._hb is not None:  # a thread still inside gRPC at interpreter exit aborts the process
                self._hb.join(15.0)
        return self.report

    def _count(self, reply: pb.PushReply, nbytes: int, loss: float) -> None:
        r = self.report
        r.pushes += 1
        r.bytes_pushed += nbytes
        r.last_version = reply.version
        r.losses.append(round(loss, 5))
        if reply.reason != "finished":
            r.bytes_offered += nbytes  # what the server's coordinator accounts for this worker
        if reply.accepted:
            r.accepted += 1
        else:
            r.rejected[reply.reason] = r.rejected.get(reply.reason, 0) + 1
        if self.report_path is not None:  # kept current, so a killed worker leaves its counts behind
            tmp = self.report_path.with_name(self.report_path.name + ".tmp")
            tmp.write_text(json.dumps(r.to_json()))
            tmp.replace(self.report_path)
        if r.pushes % 10 == 0 or reply.stepped and reply.version % 50 == 0:
            log.info("worker %d: %d pushes, %d accepted, server version %d, loss %.4f", self.client.worker_id,
                     r.pushes, r.accepted, reply.version, loss)

    def _refused(self, err: grpc.RpcError) -> None:
        code = err.code()
        self.report.refused[code.name] = self.report.refused.get(code.name, 0) + 1
        if code == grpc.StatusCode.FAILED_PRECONDITION:  # paused: wait for the run to resume
            log.warning("worker %d: %s", self.client.worker_id, err.details())
            time.sleep(self.reg.heartbeat_interval)
        elif code == grpc.StatusCode.INVALID_ARGUMENT:
            log.error("worker %d: the server refused an update: %s", self.client.worker_id, err.details())
        else:
            raise err
