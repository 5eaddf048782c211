"""WorkerClient: one worker's connection to the parameter server, with its credential on every call.

Transport failures (server down, link cut, deadline passed) are retried with exponential backoff
and jitter up to `give_up_after` seconds, so a worker rides out a server restart on its own;
statuses that retrying cannot fix (UNAUTHENTICATED, INVALID_ARGUMENT) are raised at once.
ABORTED (the server restarted or dropped us) is raised as `MustRegister` for the worker loop.

Push and Pull move byte frames (wire.py). A pull is received into one buffer the client keeps and
reuses (a fresh 0.5 GB buffer per pull would cost page faults on every byte), so `Pulled.data` is
valid until the next pull: copy or decode it before pulling again. A worker passes its `Replica`
instead (`pull(..., into=replica)`): the payload is then decoded into it as it arrives, all or
nothing (replica.py).
"""

from __future__ import annotations

import logging
import random
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc
from google.protobuf.message import DecodeError as DecodeProtoError

from dist_llm_train import __version__
from dist_llm_train.errors import DistLLMError
from dist_llm_train.runtime.grpc import ps_pb2 as pb
from dist_llm_train.runtime.grpc.connect_errors import explain, hopeless
from dist_llm_train.runtime.grpc.replica import Replica, apply_delta, dense_from_bytes, receive_delta, receive_full
from dist_llm_train.runtime.grpc.wire import (
    DEFAULT_CHUNK_BYTES,
    MD_AUTH,
    MD_SESSION,
    MD_WORKER,
    METHODS,
    channel_options,
    deserializer,
    frames,
    path,
    serializer,
    tune_malloc,
)

__all__ = ["Backoff", "MustRegister", "Pulled", "Replica", "ServerUnreachable", "WorkerClient", "apply_delta",
           "dense_from_bytes"]

log = logging.getLogger("dist_llm_train.grpc.client")

RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED,
             grpc.StatusCode.CANCELLED}


class MustRegister(Exception):
    """The server does not know this worker in its current session (restart or drop)."""


class ServerUnreachable(DistLLMError):
    """The server could not be reached for longer than the worker is willing to wait, or a TLS
    mismatch made reaching it impossible (the message names the likely cause and the fix)."""


@dataclass
class Backoff:
    initial: float = 0.5
    maximum: float = 10.0
    give_up_after: float = 600.0

    def delays(self) -> Iterator[float]:
        d = self.initial
        while True:
            yield d * random.uniform(0.5, 1.0)
            d = min(self.maximum, d * 2)


@dataclass
class Pulled:
    kind: int
    version: int
    state: int
    message: str
    replica_seq: int = 0
    data: memoryview | None = None  # a view of the client's receive buffer: valid until the next pull
    codec: str = ""
    server_seconds: float = 0.0  # what the server spent preparing the payload (e.g. encoding a delta)
    nbytes: int = 0  # payload bytes received
    decode_seconds: float = 0.0  # with `into`: time spent decoding and applying (overlapped with the receive)
    applied: bool = False  # pulled `into` a Replica: the payload is in it already (and `data` is None)


class WorkerClient:
    def __init__(self, target: str, worker_id: int, token: str, credentials: grpc.ChannelCredentials | None = None,
                 backoff: Backoff | None = None, timeout: float = 120.0, server_name: str | None = None):
        self.target = target
        self.worker_id = worker_id
        self.token = token
        self.backoff = backoff or Backoff()
        self.timeout = timeout
        tune_malloc()
        options = channel_options()
        if server_name:
            options.append(("grpc.ssl_target_name_override", server_name))
        self.channel = (grpc.secure_channel(target, credentials, options=options) if credentials is not None
                        else grpc.insecure_channel(target, options=options))
        self.tls = credentials is not None
        self.reached = False  # a call has succeeded: later transport failures are a server restarting
        self.session = ""
        self.bytes_pushed = 0  # envelopes the server answered with OK
        self._recv = bytearray()  # the pull receive buffer, grown when a payload needs more
        self._calls = {}
        for name, (req_t, rep_t, req_stream, rep_stream) in METHODS.items():
            factory = {(False, False): self.channel.unary_unary, (False, True): self.channel.unary_stream,
                       (True, False): self.channel.stream_unary}[(req_stream, rep_stream)]
            self._calls[name] = factory(path(name), request_serializer=serializer(req_t),
                                        response_deserializer=deserializer(rep_t))

    def close(self) -> None:
        self.channel.close()

    def metadata(self) -> list[tuple[str, str]]:
        md = [(MD_AUTH, f"Bearer {self.token}"), (MD_WORKER, str(self.worker_id))]
        if self.session:
            md.append((MD_SESSION, self.session))
        return md

    def _retry(self, what: str, fn: Callable[[], object]):
        start = time.monotonic()
        delays = self.backoff.delays()
        repeats, hinted = 0, False
        while True:
            try:
                out = fn()
                self.reached = True
                return out
            except grpc.RpcError as err:
                code = err.code()
                if code == grpc.StatusCode.ABORTED:
                    raise MustRegister(err.details()) from None
                if code not in RETRYABLE:
                    raise
                details = str(err.details() or "")[:300]
                repeats += 1
                hint = explain(details, self.tls, self.target)
                if not self.reached and hopeless(details, self.tls, repeats):
                    raise ServerUnreachable(f"{what}: cannot reach the server at {self.target}: {hint} "
                                            f"({code.name}: {details})") from None
                waited = time.monotonic() - start
                if waited > self.backoff.give_up_after:
                    raise ServerUnreachable(f"{what}: server {self.target} unreachable for {waited:.0f} s"
                                            + (f": {hint}" if hint else "") + f" ({code.name}: {details})") from None
                delay = next(delays)
                if hint and not hinted and not self.reached:
                    log.warning("%s: %s; retrying for up to %.0f s", what, hint, self.backoff.give_up_after)
                    hinted = True
                log.info("%s: %s (%s); retrying in %.1f s", what, code.name, details, delay)
                time.sleep(delay)

    # -- calls -----------------------------------------------------------------------------------
    def register(self) -> pb.RegisterReply:
        self.session = ""
        req = pb.RegisterRequest(worker_id=self.worker_id, client_version=__version__, wire_version=1,
                                 hostname=socket.gethostname())
        reply = self._retry("register", lambda: self._calls["Register"](req, metadata=self.metadata(),
                                                                       timeout=self.timeout))
        self.session = reply.session
        return reply

    def heartbeat(self, phase: str = "", replica_version: int = -1) -> pb.HeartbeatReply:
        req = pb.HeartbeatRequest(worker_id=self.worker_id, phase=phase, replica_version=replica_version)
        return self._calls["Heartbeat"](req, metadata=self.metadata(), timeout=min(self.timeout, 10.0))

    def status(self) -> str:
        return self._retry("status", lambda: self._calls["Status"](pb.StatusRequest(), metadata=self.metadata(),
                                                                   timeout=self.timeout)).json

    def pull(self, min_version: int = 0, want_delta: bool = False, replica_seq: int = 0,
             wait_seconds: float = 10.0, into: Replica | None = None) -> Pulled:
        """One pull. With `into`, the payload is applied to that replica as it arrives (replica.py:
        all or nothing, never half-updated) and `data` is None; without it, `data` is a view of the
        received payload, valid until the next pull."""
        req = pb.PullRequest(worker_id=self.worker_id, min_version=min_version, want_delta=want_delta,
                             replica_seq=replica_seq, wait_seconds=wait_seconds)

        def once() -> Pulled:
            stream = self._calls["Pull"](req, metadata=self.metadata(), timeout=self.timeout + wait_seconds)
            try:
                h = pb.PullHeader.FromString(next(stream))
            except DecodeProtoError as exc:
                raise ValueError(f"pull: the server's first frame is not a PullHeader ({exc})") from None
            out = Pulled(h.kind, h.version, h.state, h.message, h.replica_seq, codec=h.codec,
                         server_seconds=h.server_seconds)
            if h.kind not in (pb.FULL, pb.DELTA):
                return out
            if h.total_bytes < 0:
                raise ValueError(f"pull: the server announced {h.total_bytes} bytes")
            out.nbytes = h.total_bytes
            if into is None:
                out.data = self._receive(stream, h.total_bytes)
            elif h.kind == pb.FULL:
                out.decode_seconds = receive_full(stream, h.total_bytes, into)
                out.applied = True
            else:
                out.decode_seconds = receive_delta(stream, h.total_bytes, into, self._receive)
                out.applied = True
            return out

        return self._retry("pull", once)

    def _receive(self, stream, total: int) -> memoryview:
        """The payload frames of a pull, written into the reused receive buffer."""
        if total < 0:
            raise ValueError(f"pull: the server announced {total} bytes")
        if len(self._recv) < total:
            self._recv = bytearray(total)
        buf = memoryview(self._recv)[:total]
        pos = 0
        for frame in stream:
            n = len(frame)
            if pos + n > total:
                raise ValueError(f"pull: server sent more than the {total} bytes it announced")
            buf[pos : pos + n] = frame
            pos += n
        if pos != total:
            raise ValueError(f"pull truncated: {pos} of {total} bytes")
        return buf

    def push(self, data: bytes | bytearray | memoryview, base_version: int, n_samples: int, loss: float = 0.0,
             compute_seconds: float = 0.0, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> pb.PushReply:
        """Push one codec envelope (bytes-like; `data` may also be a list of parts sent back to back,
        e.g. an envelope head and the codec's payload view, so the caller need not join them)."""
        parts = data if isinstance(data, list) else [data]
        nbytes = sum(memoryview(p).nbytes for p in parts)
        header = pb.PushHeader(worker_id=self.worker_id, base_version=base_version, n_samples=n_samples,
                               total_bytes=nbytes, loss=loss, compute_seconds=compute_seconds)

        def stream():
            yield header.SerializeToString()
            yield from frames(parts, chunk_bytes)

        reply = self._retry("push", lambda: self._calls["Push"](stream(), metadata=self.metadata(),
                                                               timeout=self.timeout))
        self.bytes_pushed += nbytes
        return reply

    def raw_push(self, frames_: list[bytes], timeout: float = 30.0) -> pb.PushReply:
        """One push attempt with exactly these frames (no retry): for tests and diagnostics."""
        return self._calls["Push"](iter(frames_), metadata=self.metadata(), timeout=timeout)
