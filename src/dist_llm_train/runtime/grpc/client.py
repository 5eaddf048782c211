"""WorkerClient: one worker's connection to the parameter server, with its credential on every call.

Transport failures (server down, link cut, deadline passed) are retried with exponential backoff
and jitter up to `give_up_after` seconds, so a worker rides out a server restart on its own;
statuses that retrying cannot fix (UNAUTHENTICATED, INVALID_ARGUMENT) are raised at once.
ABORTED (the server restarted or dropped us) is raised as `MustRegister` for the worker loop.
"""

from __future__ import annotations

import logging
import random
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc
import torch

from dist_llm_train import __version__
from dist_llm_train.runtime.grpc import ps_pb2 as pb
from dist_llm_train.runtime.grpc.wire import MD_AUTH, MD_SESSION, MD_WORKER, METHODS, channel_options, path

log = logging.getLogger("dist_llm_train.grpc.client")

RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED,
             grpc.StatusCode.CANCELLED}


class MustRegister(Exception):
    """The server does not know this worker in its current session (restart or drop)."""


class ServerUnreachable(Exception):
    """The server could not be reached for longer than the worker is willing to wait."""


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
    data: bytearray | None = None
    codec: str = ""


class WorkerClient:
    def __init__(self, target: str, worker_id: int, token: str, credentials: grpc.ChannelCredentials | None = None,
                 backoff: Backoff | None = None, timeout: float = 120.0, server_name: str | None = None):
        self.target = target
        self.worker_id = worker_id
        self.token = token
        self.backoff = backoff or Backoff()
        self.timeout = timeout
        options = channel_options()
        if server_name:
            options.append(("grpc.ssl_target_name_override", server_name))
        self.channel = (grpc.secure_channel(target, credentials, options=options) if credentials is not None
                        else grpc.insecure_channel(target, options=options))
        self.session = ""
        self.bytes_pushed = 0  # envelopes the server answered with OK
        self._calls = {}
        for name, (req_t, rep_t, req_stream, rep_stream) in METHODS.items():
            factory = {(False, False): self.channel.unary_unary, (False, True): self.channel.unary_stream,
                       (True, False): self.channel.stream_unary}[(req_stream, rep_stream)]
            self._calls[name] = factory(path(name), request_serializer=req_t.SerializeToString,
                                        response_deserializer=rep_t.FromString)

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
        while True:
            try:
                return fn()
            except grpc.RpcError as err:
                code = err.code()
                if code == grpc.StatusCode.ABORTED:
                    raise MustRegister(err.details()) from None
                if code not in RETRYABLE:
                    raise
                waited = time.monotonic() - start
                if waited > self.backoff.give_up_after:
                    raise ServerUnreachable(f"{what}: server {self.target} unreachable for {waited:.0f} s "
                                            f"({code.name}: {err.details()})") from None
                delay = next(delays)
                log.info("%s: %s (%s); retrying in %.1f s", what, code.name, err.details(), delay)
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
             wait_seconds: float = 10.0) -> Pulled:
        req = pb.PullRequest(worker_id=self.worker_id, min_version=min_version, want_delta=want_delta,
                             replica_seq=replica_seq, wait_seconds=wait_seconds)

        def once() -> Pulled:
            stream = self._calls["Pull"](req, metadata=self.metadata(), timeout=self.timeout + wait_seconds)
            first = next(stream)
            h = first.header
            out = Pulled(h.kind, h.version, h.state, h.message, h.replica_seq, codec=h.codec)
            if h.kind in (pb.FULL, pb.DELTA):
                buf = bytearray(h.total_bytes)
                pos = 0
                for chunk in stream:
                    n = len(chunk.data)
                    if pos + n > len(buf):
                        raise ValueError(f"pull: server sent more than the {len(buf)} bytes it announced")
                    buf[pos : pos + n] = chunk.data
                    pos += n
                if pos != len(buf):
                    raise ValueError(f"pull truncated: {pos} of {len(buf)} bytes")
                out.data = buf
            return out

        return self._retry("pull", once)

    def push(self, data: bytes, base_version: int, n_samples: int, loss: float = 0.0,
             compute_seconds: float = 0.0, chunk_bytes: int = 1 << 20) -> pb.PushReply:
        header = pb.PushHeader(worker_id=self.worker_id, base_version=base_version, n_samples=n_samples,
                               total_bytes=len(data), loss=loss, compute_seconds=compute_seconds)

        def chunks():
            yield pb.PushChunk(header=header)
            view = memoryview(data)
            for start in range(0, len(view), chunk_bytes):
                yield pb.PushChunk(data=bytes(view[start : start + chunk_bytes]))

        reply = self._retry("push", lambda: self._calls["Push"](chunks(), metadata=self.metadata(),
                                                               timeout=self.timeout))
        self.bytes_pushed += len(data)
        return reply

    def raw_push(self, chunks: list[pb.PushChunk], timeout: float = 30.0) -> pb.PushReply:
        """One push attempt with exactly these messages (no retry): for tests and diagnostics."""
        return self._calls["Push"](iter(chunks), metadata=self.metadata(), timeout=timeout)


def dense_from_bytes(data: bytearray, numel: int) -> torch.Tensor:
    """Raw little-endian fp32 parameters from a full pull."""
    if len(data) != 4 * numel:
        raise ValueError(f"full pull has {len(data)} bytes, a model of {numel} parameters needs {4 * numel}")
    return torch.frombuffer(data, dtype=torch.float32)
