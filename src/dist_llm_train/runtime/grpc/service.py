"""The gRPC binding of ServerCore: authentication, session checks, streaming, status codes.

Each handler authenticates first, then admits the call under the worker's limits (calls and bytes
in flight, calls per second: call_limits.py), then checks that the caller registered with this
server incarnation (a restarted server answers ABORTED and the worker registers again), then hands
validated data to the core. Pushes and pulls are watched by a deadline derived from the worker's
link and the message size (deadlines.py), so a stalled stream is cut instead of holding a thread.
A `Rejected` from validation or the core becomes the status it names; nothing a client sends can
raise out of a handler.

Push and Pull carry byte frames (wire.py): a dense elementwise push (none, fp16, bf16) is decoded
frame by frame into a leased fp32 slot as it arrives, any other push is received into a leased
buffer sized by its validated header and decoded afterwards (receive.py); either way the core
gets it only once it is complete and checked, and copies what it keeps. A pull streams slices
of the core's payload parts without joining them.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
import time
from concurrent import futures

import grpc

from dist_llm_train import __version__
from dist_llm_train.errors import ConfigError
from dist_llm_train.runtime.grpc import ps_pb2 as pb
from dist_llm_train.runtime.grpc.auth import Authenticator
from dist_llm_train.runtime.grpc.bounded import check_field
from dist_llm_train.runtime.grpc.call_limits import CallLimiter, pool_threads
from dist_llm_train.runtime.grpc.deadlines import LinkRates, Watchdog
from dist_llm_train.runtime.grpc.receive import envelope_spec, receive_push
from dist_llm_train.runtime.grpc.refusal_log import peer_host
from dist_llm_train.runtime.grpc.server_core import ServerCore
from dist_llm_train.runtime.grpc.validation import Rejected, check_header, parse_header
from dist_llm_train.runtime.grpc.wire import (
    MAX_CHUNK_BYTES,
    MD_SESSION,
    METHODS,
    SERVICE,
    deserializer,
    frames,
    serializer,
    server_options,
    tune_malloc,
)

log = logging.getLogger("dist_llm_train.grpc.service")

__all__ = ["ParameterServerService", "envelope_spec", "start_server"]


class ParameterServerService:
    def __init__(self, core: ServerCore, auth: Authenticator, *, run_config_json: str, layout_sha256: str,
                 uplink_codec: str, downlink_codec: str = "", chunk_bytes: int = 1 << 20,
                 limiter: CallLimiter | None = None, rates: LinkRates | None = None):
        if not 1 <= chunk_bytes <= MAX_CHUNK_BYTES:
            raise ValueError(f"chunk_bytes must be in 1..{MAX_CHUNK_BYTES}, got {chunk_bytes}")
        self.core = core
        self.auth = auth
        self.run_config_json = run_config_json
        self.layout_sha256 = layout_sha256
        self.uplink_codec = uplink_codec
        self.downlink_codec = downlink_codec
        self.chunk_bytes = chunk_bytes
        # two pushes of the largest size the server accepts, or one with a full pull beside it
        self.limiter = limiter or CallLimiter(max_bytes=2 * core.limits.max_bytes)
        self.rates = rates or LinkRates()
        self.refusals = auth.refusals
        self.watchdog = Watchdog(self.rates, on_expire=self._expired, on_tick=self.refusals.flush)

    def close(self) -> None:
        self.watchdog.close()
        self.refusals.flush(force=True)

    # -- helpers ---------------------------------------------------------------------------------
    def _session(self, context) -> None:
        md = dict(context.invocation_metadata())
        if md.get(MD_SESSION) != self.core.session:
            raise Rejected(grpc.StatusCode.ABORTED, "the server restarted since this worker registered; register again")

    def _refuse(self, context, worker_id, rej: Rejected):
        name = rej.code.name
        self.core.count_refusal(name)
        if rej.code not in (grpc.StatusCode.ABORTED, grpc.StatusCode.FAILED_PRECONDITION):
            self.refusals.refused(f"worker {worker_id} at {peer_host(context.peer())}", name, rej.message)
        context.abort(rej.code, rej.message)

    def _expired(self, watch) -> None:
        self.core.count_refusal("DEADLINE_EXCEEDED")
        self.refusals.refused(f"worker {watch.worker_id}", "DEADLINE_EXCEEDED",
                              f"{watch.what} cut after {time.monotonic() - watch.started:.1f} s with "
                              f"{watch.moved} bytes moved (deadline from its link and the message size)")

    @contextlib.contextmanager
    def _call(self, context, worker_id: int, method: str):
        """Admit the call under the worker's limits; refusals inside become the status they name."""
        try:
            ticket = self.limiter.enter(worker_id, method)
        except Rejected as rej:
            self._refuse(context, worker_id, rej)
        try:
            yield ticket
        except Rejected as rej:
            self._refuse(context, worker_id, rej)
        finally:
            self.limiter.leave(ticket)

    def _watched(self, frames, watch):
        """The push's payload frames, counted for its deadline; the watch ends when the stream does,
        before the server step (which is never cut halfway)."""
        for frame in frames:
            watch.progress(len(frame))
            yield frame
        if watch.done():
            raise Rejected(grpc.StatusCode.DEADLINE_EXCEEDED, "the push took longer than its deadline")
        self.rates.observe(watch.worker_id, watch.moved, time.monotonic() - watch.started)

    # -- handlers --------------------------------------------------------------------------------
    def Register(self, req, context):
        wid = self.auth.authenticate(context, req.worker_id)
        with self._call(context, wid, "Register"):
            host = check_field("hostname", req.hostname) or peer_host(context.peer())
            client = check_field("client_version", req.client_version) or "?"
            self.core.register(wid, host)
        c = self.core
        log.info("worker %d registered from %s (client %s)", wid, host, client)
        return pb.RegisterReply(
            session=c.session, run_config_json=self.run_config_json, layout_sha256=self.layout_sha256,
            numel=c.server.numel, version=c.server.version, uplink_codec=self.uplink_codec,
            downlink_codec=self.downlink_codec, max_push_bytes=c.limits.max_bytes, chunk_bytes=self.chunk_bytes,
            heartbeat_interval=c.membership.policy.heartbeat_interval, state=c.state, message=c.message,
            num_workers=c.num_workers)

    def Pull(self, req, context):
        wid = self.auth.authenticate(context, req.worker_id)
        with self._call(context, wid, "Pull") as ticket:
            self._session(context)
            payload = self.core.pull(wid, req)
            try:
                nbytes = payload.nbytes
                self.limiter.add_bytes(ticket, nbytes)
                watch = self.watchdog.watch(wid, "pull", self.rates.deadline(wid, nbytes), context.cancel)
                try:
                    yield payload.header.SerializeToString()
                    for frame in frames(list(payload.parts or ()), self.chunk_bytes):  # one copy per frame
                        yield frame
                        watch.progress(len(frame))
                finally:  # also when the client goes away or the deadline cuts the stream
                    if not watch.done():
                        self.rates.observe(wid, watch.moved, time.monotonic() - watch.started)
            finally:
                payload.close()

    def Push(self, request_iterator, context):
        wid = self.auth.authenticate(context)
        with self._call(context, wid, "Push") as ticket:
            watch = self.watchdog.watch(wid, "push", self.rates.grace, context.cancel)  # until the header is in
            try:
                self._session(context)
                h = parse_header(next(request_iterator, None), pb.PushHeader, "push")
                version = self.core.admit_push(wid)
                check_header(h, wid, version, self.core.limits)  # bounds total_bytes before anything is leased
                self.limiter.add_bytes(ticket, h.total_bytes)
                watch.extend(self.rates.deadline(wid, h.total_bytes))
                return receive_push(self.core, self._watched(request_iterator, watch), h, wid, self.uplink_codec)
            finally:
                watch.done()

    def Heartbeat(self, req, context):
        wid = self.auth.authenticate(context, req.worker_id)
        with self._call(context, wid, "Heartbeat"):
            self._session(context)
            return self.core.heartbeat(wid, check_field("phase", req.phase))

    def Status(self, req, context):
        wid = self.auth.authenticate(context)
        with self._call(context, wid, "Status"):
            return pb.StatusReply(json=self.core.status_json())


def _handler(fn, req_type, reply_type, req_stream: bool, reply_stream: bool):
    kinds = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
    }
    return kinds[(req_stream, reply_stream)](fn, request_deserializer=deserializer(req_type),
                                             response_serializer=serializer(reply_type))


def _bind_problem(host: str, port: int) -> str:
    """Why host:port cannot be bound, in words, with the fix."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return f"the host name does not resolve ({exc.strerror or exc}); give an address of this machine in --host"
    for family, kind, proto, _, sockaddr in infos:
        with socket.socket(family, kind, proto) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(sockaddr)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return f"port {port} is in use; stop what uses it or pick another --port (0 = any free port)"
                if exc.errno == errno.EADDRNOTAVAIL:
                    return f"{host} is not an address of this machine; use one of its addresses or 0.0.0.0"
                if exc.errno == errno.EACCES:
                    return f"port {port} needs privileges; pick a port above 1023"
                return f"{exc.strerror or exc}"
    return "gRPC refused the address (and the TLS files passed their checks)"


def start_server(service: ParameterServerService, host: str = "127.0.0.1", port: int = 0,
                 credentials: grpc.ServerCredentials | None = None, max_threads: int | None = None):
    """Start serving; returns (grpc.Server, bound port). Port 0 picks a free port."""
    tune_malloc()
    handlers = {name: _handler(getattr(service, name), *spec) for name, spec in METHODS.items()}
    threads = max_threads or pool_threads(service.core.num_workers)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="ps"),
                         options=server_options(), maximum_concurrent_rpcs=None)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    addr = f"{host}:{port}"
    try:
        bound = server.add_secure_port(addr, credentials) if credentials is not None \
            else server.add_insecure_port(addr)
    except RuntimeError:  # gRPC says only "Failed to bind": find out why with a plain socket
        bound = 0
    if bound == 0:
        raise ConfigError(f"cannot listen on {addr}: {_bind_problem(host, port)}")
    server.start()
    log.info("parameter server %s listening on %s:%d (%s)", __version__, host, bound,
             "TLS" if credentials is not None else "plain text")
    return server, bound
