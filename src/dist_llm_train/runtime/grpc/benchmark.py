"""Transport benchmark: push and pull over the gRPC service against a raw socket moving the same bytes.

Loopback only. The server runs in this process and the worker in another one (`--same-process`:
in this one, the old arrangement), so that each has its own interpreter and GIL as on two
machines; the raw baseline runs between the same two processes. For dense fp16 and top-k 1% it
times, repeat by repeat and interleaved with a raw TCP transfer of the same number of bytes into
a preallocated buffer (each timed on the worker's side, from the first byte sent to the last byte
or the 1-byte acknowledgement received, as the gRPC call is):

- push: the worker streams the envelope, the server receives, validates and decodes it into its
  fp32 slot (the *transfer*; fp16 is decoded frame by frame as it arrives), then the coordinator
  admits it and the server steps (the *server step*, timed by the server and reported in the
  reply, shown apart and subtracted);
- pull full fp32: one version's snapshot streamed into the worker's Replica;
- pull delta: the encoded delta streamed into the worker's Replica, decoded and added (for fp16
  frame by frame as replica + delta into the spare vector), after the server encoded it (server
  encode, from the pull header, shown apart and subtracted).

gRPC/raw is the raw socket's time over the transfer's. Beside each raw transfer, grpcio alone moves
the same bytes (bare_stream.py): the floor under the service, so that what the service adds to
grpcio is told apart from what grpcio costs against a socket. Then N client threads in another process
push top-k updates as fast as the server takes them: server updates per second.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import socket
import statistics
import threading
import time

import torch

CHUNK = 4 << 20


def add_arguments(p) -> None:
    p.add_argument("--params", type=int, default=124_439_808, help="model size (default: GPT-2 small)")
    p.add_argument("--quick", action="store_true", help="10M parameters, fewer repeats")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--workers", type=int, default=8, help="concurrent pushing clients for updates/s")
    p.add_argument("--seconds", type=float, default=20.0, help="duration of the updates/s measurement")
    p.add_argument("--same-process", action="store_true",
                   help="run the worker in the server's process (one GIL for both, as before 2026-12-02)")
    p.add_argument("--torch-threads", type=int, default=1, help="torch threads per process (1 or 2)")


def raw_socket_seconds(nbytes: int, payload: memoryview | None = None, sink: bytearray | None = None) -> float:
    """Send nbytes over a loopback TCP connection into a preallocated buffer; returns the seconds."""
    payload = payload if payload is not None else memoryview(bytearray(b"\x01") * nbytes)
    sink = sink if sink is not None else bytearray(nbytes)
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    done = threading.Event()

    def receive():
        conn, _ = srv.accept()
        view, got = memoryview(sink), 0
        while got < nbytes:
            n = conn.recv_into(view[got:], min(1 << 22, nbytes - got))
            if n == 0:
                break
            got += n
        conn.close()
        done.set()

    t = threading.Thread(target=receive)
    t.start()
    cli = socket.create_connection(srv.getsockname())
    t0 = time.perf_counter()
    cli.sendall(payload[:nbytes])
    done.wait()
    dt = time.perf_counter() - t0
    cli.close()
    srv.close()
    t.join()
    return dt


class RawSocket:
    """Raw transfers reusing one payload and one sink, so the baseline pays no allocation either."""

    def __init__(self, nbytes: int):
        self.payload = memoryview(bytearray(b"\x01") * nbytes)
        self.sink = bytearray(nbytes)

    def seconds(self, nbytes: int) -> float:
        return raw_socket_seconds(nbytes, self.payload, self.sink)


def _start(numel: int, uplink: str, downlink: str | None, workers: int = 9):
    from dist_llm_train.aggregation import make_aggregator
    from dist_llm_train.compression import make_codec
    from dist_llm_train.config.schema import OptimizerConfig
    from dist_llm_train.layout import ParamLayout
    from dist_llm_train.runtime.grpc.assembly import make_decoder, make_sparse_decoder, make_stream_decoder
    from dist_llm_train.runtime.grpc.auth import Authenticator
    from dist_llm_train.runtime.grpc.server_core import ServerCore
    from dist_llm_train.runtime.grpc.service import ParameterServerService, start_server
    from dist_llm_train.runtime.grpc.tokens import TokenStore
    from dist_llm_train.sync import BoundedAsyncCoordinator, ParameterServer
    from dist_llm_train.sync.downlink import DownlinkMirror

    layout = ParamLayout([("w", (numel,))])
    coord = BoundedAsyncCoordinator(num_workers=workers, max_staleness=1 << 30,
                                    aggregator=make_aggregator("mean", f=0))
    ps = ParameterServer(initial_params=torch.randn(numel), layout=layout, optimizer=OptimizerConfig(name="sgd"),
                         coordinator=coord)
    dl = DownlinkMirror(make_codec(downlink, layout=layout)) if downlink else None
    core = ServerCore(ps, make_decoder(layout), decode_sparse=make_sparse_decoder(layout),
                      decode_stream=make_stream_decoder(layout), num_workers=workers,
                      max_server_steps=1 << 40, min_workers=1, downlink=dl, push_rate=0)
    store = TokenStore()
    tokens = {w: store.issue(w) for w in range(workers)}
    svc = ParameterServerService(core, Authenticator(store), run_config_json="{}", layout_sha256="",
                                 uplink_codec=make_codec(uplink, layout=layout).spec,
                                 downlink_codec=dl.codec.spec if dl else "", chunk_bytes=CHUNK)
    server, port = start_server(svc, "127.0.0.1", 0)
    return server, port, tokens, core


def _client(port: int, wid: int, token: str):
    from dist_llm_train.runtime.grpc.client import WorkerClient

    c = WorkerClient(f"127.0.0.1:{port}", wid, token)
    c.register()
    return c


class BenchWorker:
    """The worker's side of the benchmark: pushes one encoded update, pulls into a Replica (what a
    worker does), and moves the same bytes over a raw socket to or from the server's process.
    Every time is taken here, on the caller's side, as a worker would see it."""

    def __init__(self, port: int, token: str, numel: int, spec: str, threads: int = 1):
        from dist_llm_train.compression import make_codec
        from dist_llm_train.layout import ParamLayout
        from dist_llm_train.runtime.grpc.replica import Replica

        torch.set_num_threads(threads)
        layout = ParamLayout([("w", (numel,))])
        self.client = _client(port, 0, token)
        gen = torch.Generator().manual_seed(0)
        self.enc = make_codec(spec, layout=layout, seed=0).encode(torch.randn(numel, generator=gen) * 1e-3)
        self.parts = [self.enc.head(), self.enc.payload]
        self.replica = Replica(numel, layout)
        self.sink = bytearray(4 * numel + 4096)
        self.payload = memoryview(bytearray(b"\x01") * (4 * numel + 4096))
        self._bare = None  # a BareClient, opened on the first bare transfer

    def push(self, version: int) -> dict:
        t0 = time.perf_counter()
        reply = self.client.push(self.parts, version, 1, chunk_bytes=CHUNK)
        wall = time.perf_counter() - t0
        return {"wall": wall, "server": reply.step_seconds, "decode": reply.decode_seconds,
                "bytes": self.enc.wire_bytes, "version": reply.version}

    def pull(self, want_delta: bool, seq: int = 0) -> dict:
        t0 = time.perf_counter()
        got = self.client.pull(want_delta=want_delta, replica_seq=seq, into=self.replica)
        wall = time.perf_counter() - t0
        return {"wall": wall, "server": got.server_seconds, "decode": got.decode_seconds, "bytes": got.nbytes,
                "kind": got.kind, "seq": got.replica_seq}

    def digest(self) -> str:
        return hashlib.blake2b(self.replica.params.numpy().tobytes()).hexdigest()

    def raw(self, direction: str, nbytes: int, port: int) -> float:
        """Seconds to move nbytes to the server's process ("up": until its 1-byte ack is back)
        or from it ("down": from a 1-byte request until the last byte is in), as a push or pull."""
        s = socket.create_connection(("127.0.0.1", port))
        try:
            s.recv(1)  # the server's end has accepted: the clock starts on a ready connection, as gRPC's
            t0 = time.perf_counter()
            if direction == "up":
                s.sendall(self.payload[:nbytes])
                s.recv(1)
            else:
                s.sendall(b"?")
                _recv_exactly(s, memoryview(self.sink), nbytes)
            return time.perf_counter() - t0
        finally:
            s.close()

    def bare(self, direction: str, nbytes: int, port: int) -> float:
        """Seconds for grpcio alone to move nbytes to or from the server's process (bare_stream.py)."""
        from dist_llm_train.runtime.grpc.bare_stream import BareClient

        if self._bare is None:
            self._bare = BareClient(port, len(self.payload), CHUNK)
            self._bare.seconds(direction, nbytes)  # warm-up: the connection opened
        return self._bare.seconds(direction, nbytes)

    def close(self) -> None:
        if self._bare is not None:
            self._bare.close()
        self.client.close()


def _recv_exactly(s: socket.socket, view: memoryview, nbytes: int) -> None:
    got = 0
    while got < nbytes:
        n = s.recv_into(view[got:], min(1 << 22, nbytes - got))
        if n == 0:
            raise ConnectionError(f"raw socket closed after {got} of {nbytes} bytes")
        got += n


class RawPeer:
    """The server's process end of the raw baseline: a listener that receives `nbytes` into a
    preallocated buffer and acks (push direction), or answers a request with `nbytes` (pull)."""

    def __init__(self, nbytes: int):
        self.payload = memoryview(bytearray(b"\x01") * nbytes)
        self.sink = memoryview(bytearray(nbytes))
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(1)
        self.port = self.srv.getsockname()[1]

    def serve_once(self, direction: str, nbytes: int) -> threading.Thread:
        def run():
            conn, _ = self.srv.accept()
            try:
                conn.sendall(b"r")
                if direction == "up":
                    _recv_exactly(conn, self.sink, nbytes)
                    conn.sendall(b"!")
                else:
                    conn.recv(1)
                    conn.sendall(self.payload[:nbytes])
            finally:
                conn.close()

        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t

    def close(self) -> None:
        self.srv.close()


def _worker_main(conn, args) -> None:
    """A BenchWorker in its own process, driven over a pipe: (method, args) -> result."""
    try:
        w = BenchWorker(*args)
    except BaseException as exc:  # report it to the parent instead of hanging it
        conn.send(("error", repr(exc)))
        return
    conn.send(("ok", None))
    while True:
        name, a = conn.recv()
        if name == "stop":
            w.close()
            conn.send(("ok", None))
            return
        try:
            conn.send(("ok", getattr(w, name)(*a)))
        except BaseException as exc:
            conn.send(("error", repr(exc)))


class RemoteWorker:
    """A BenchWorker in another process: the worker and the server each have their own
    interpreter and GIL, as on two machines (the raw socket's ends are two processes too)."""

    def __init__(self, *args):
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, args), daemon=True)
        self.proc.start()
        self._answer()

    def _answer(self):
        status, value = self.conn.recv()
        if status != "ok":
            raise RuntimeError(f"benchmark worker process: {value}")
        return value

    def __getattr__(self, name):
        def call(*a):
            self.conn.send((name, a))
            return self._answer()
        return call

    def close(self) -> None:
        self.conn.send(("stop", ()))
        self._answer()
        self.proc.join(30)


def _row(op: str, nbytes: int, samples: list[tuple[float, float, float]], raw: list[float],
         server_what: str = "", serial_decode: bool = False, bare: list[float] | None = None) -> dict:
    """samples: (transfer seconds, of which decoding, server seconds) per repeat; raw: raw socket
    seconds per repeat. The ratio is best raw over best transfer; the range is repeat by repeat.
    serial_decode: the payload is decoded after it has arrived (top-k), not while it arrives, so
    transfer - decode is the transport's own time (`transport`, and its ratio to raw); when the
    decode overlaps the receive (fp16, full fp32) it cannot be taken apart and transport = transfer.
    bare: grpcio alone moving the same bytes per repeat (bare_stream.py), the floor under the service."""
    transfer = [s[0] for s in samples]
    transport = [s[0] - s[1] if serial_decode else s[0] for s in samples]
    ratios = [r / t for r, t in zip(raw, transfer)]
    best = min(range(len(samples)), key=lambda i: transfer[i])
    return {"op": op, "bytes": nbytes, "transfer": transfer[best], "decode": samples[best][1], "raw": min(raw),
            "ratio": min(raw) / min(transfer), "ratio_lo": min(ratios), "ratio_hi": max(ratios),
            "transport": min(transport), "transport_ratio": min(raw) / min(transport),
            "serial_decode": serial_decode, "bare": min(bare) if bare else None,
            "bare_ratio": min(raw) / min(bare) if bare else None,
            "transport_over_bare": min(transport) / min(bare) if bare else None,
            "server": statistics.median(s[2] for s in samples), "server_what": server_what}


def bench_codec(spec: str, numel: int, repeats: int, same_process: bool = False, threads: int = 1) -> list[dict]:
    """Push `spec` updates, then pull full copies and `spec` deltas, each beside a raw transfer of
    the same bytes between the same two ends. transfer = the worker's wall time minus the server's
    own work (its step after a push, its snapshot or delta encoding before a pull)."""
    from dist_llm_train.compression import make_codec
    from dist_llm_train.compression.dense import DenseCodec
    from dist_llm_train.runtime.grpc import ps_pb2 as pb
    from dist_llm_train.runtime.grpc.bare_stream import BareSink

    codec = make_codec(spec)
    streamed = isinstance(codec, DenseCodec) and codec.item_dtype is not None  # decoded as it arrives
    server, port, tokens, core = _start(numel, spec, spec)
    peer = RawPeer(4 * numel + 4096)
    sink = BareSink(4 * numel + 4096, CHUNK)
    make = BenchWorker if same_process else RemoteWorker
    w = make(port, tokens[0], numel, spec, threads)
    rows = []

    def baselines(direction: str, nbytes: int) -> tuple[float, float]:
        """Seconds for the raw socket, then for grpcio alone, to move the same nbytes."""
        t = peer.serve_once(direction, nbytes)
        seconds = w.raw(direction, nbytes, peer.port)
        t.join()
        return seconds, w.bare(direction, nbytes, sink.port)

    try:
        w.push(core.server.version)  # warm-up: buffers leased and connections open
        samples, raws, bares = [], [], []
        for _ in range(repeats):
            r = w.push(core.server.version)
            samples.append((r["wall"] - r["server"], r["decode"], r["server"]))
            raw, bare = baselines("up", r["bytes"])
            raws.append(raw)
            bares.append(bare)
        rows.append(_row(f"push {spec}", r["bytes"], samples, raws, "server step", serial_decode=not streamed,
                         bare=bares))

        w.pull(False)  # warm-up: the replica's two buffers
        samples, raws, bares = [], [], []
        for _ in range(repeats):
            r = w.pull(False)
            samples.append((r["wall"] - r["server"], r["decode"], r["server"]))
            raw, bare = baselines("down", r["bytes"])
            raws.append(raw)
            bares.append(bare)
        rows.append(_row("pull full fp32", 4 * numel, samples, raws, "server snapshot", bare=bares))

        seq = w.pull(True)["seq"]  # the mirror restarts from this full copy
        samples, raws, bares = [], [], []
        for _ in range(repeats + 1):
            w.push(core.server.version)  # the parameters move, so the delta is a real one
            r = w.pull(True, seq)
            if r["kind"] != pb.DELTA:
                raise RuntimeError(f"expected a delta pull, got kind {r['kind']}")
            seq = r["seq"]
            samples.append((r["wall"] - r["server"], r["decode"], r["server"]))
            raw, bare = baselines("down", r["bytes"])
            raws.append(raw)
            bares.append(bare)
        mirror = hashlib.blake2b(core.downlink.replicas[0].numpy().tobytes()).hexdigest()
        if w.digest() != mirror:
            raise RuntimeError("the worker's replica differs from the server's mirror of it")
        rows.append(_row(f"pull delta {spec}", r["bytes"], samples[1:], raws[1:], "server encode",
                         serial_decode=not streamed, bare=bares[1:]))
    finally:
        w.close()
        peer.close()
        sink.stop()
        server.stop(None)
    return rows


def _pusher(port: int, tokens: dict, workers: int, parts: list, seconds: float, out) -> None:
    torch.set_num_threads(1)
    clients = [_client(port, i + 1, tokens[i + 1]) for i in range(workers)]
    counts = [0] * workers
    start = threading.Barrier(workers + 1)
    end = [0.0]

    def run(i):
        start.wait()
        while time.monotonic() < end[0]:
            clients[i].push(parts, 0, 1, chunk_bytes=CHUNK)
            counts[i] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    end[0] = t0 + seconds
    start.wait()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    for c in clients:
        c.close()
    out.put((sum(counts), elapsed))


def bench_updates_per_second(numel: int, workers: int, seconds: float, spec: str = "topk:0.01") -> dict:
    from dist_llm_train.compression import make_codec

    server, port, tokens, core = _start(numel, spec, None, workers=workers + 1)
    try:
        enc = make_codec(spec, layout=core.server.layout).encode(torch.randn(numel) * 1e-3)
        ctx = mp.get_context("spawn")
        q = ctx.Queue()
        proc = ctx.Process(target=_pusher, args=(port, tokens, workers, [enc.head(), bytes(enc.payload)],
                                                 seconds, q))
        v0 = core.server.version
        proc.start()
        pushes, elapsed = q.get(timeout=seconds + 600)
        proc.join()
        steps = core.server.version - v0
        return {"workers": workers, "pushes": pushes, "server_steps": steps, "seconds": elapsed,
                "updates_per_second": steps / elapsed, "bytes_per_update": enc.wire_bytes}
    finally:
        server.stop(None)


def run(args) -> int:
    numel = 10_000_000 if args.quick else args.params
    repeats = 2 if args.quick else args.repeats
    threads = args.torch_threads
    if not 1 <= threads <= 2:
        raise SystemExit("--torch-threads must be 1 or 2")
    torch.set_num_threads(threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    where = ("server and worker in one process (one GIL), the raw socket's ends two threads" if args.same_process
             else "server and worker in two processes, the raw socket's ends the same two processes")
    print(f"gRPC transport on loopback, {numel:,} parameters, {repeats} repeats interleaved with the raw socket, "
          f"{where}, {threads} torch thread(s) each (load average {load:.1f})")
    print("transfer = the worker's wall time for the call minus the server's own work (step after a push, "
          "snapshot or encode before a pull, timed by the server and shown apart); it includes validating and "
          "decoding into the receiver's buffer (decode s: the time spent decoding and applying, overlapped with "
          "the receive where the codec allows)")
    print("transport = transfer minus a decode that runs after the payload has arrived (top-k: the index unpacking, "
          "value checks and scatter), i.e. what the transport itself costs against the raw socket; where the decode "
          "overlaps the receive (fp16, full fp32) it stays in, and transport = transfer")
    print("grpcio s = grpcio alone streaming the same bytes in the same frames between the same two processes, with "
          "nothing of the service's (bare_stream.py): the floor under any service built on it; transp/grpcio = "
          "the service's transport time over that floor (1.00 = nothing added)")
    print(f"{'operation':<22}{'MB':>7}{'transfer s':>11}{'decode s':>9}{'grpc/raw':>9}{'(range)':>11}"
          f"{'transport s':>12}{'transp/raw':>11}{'grpcio s':>9}{'grpcio/raw':>11}{'transp/grpcio':>14}"
          f"{'raw MB/s':>9}   server s")
    for spec in ("fp16", "topk:0.01"):
        for r in bench_codec(spec, numel, repeats, same_process=args.same_process, threads=threads):
            mb = r["bytes"] / 1e6
            rng = f"{r['ratio_lo']:.2f}-{r['ratio_hi']:.2f}"
            tr = f"{r['transport']:.3f}" if r["serial_decode"] else "= transfer"
            print(f"{r['op']:<22}{mb:>7.1f}{r['transfer']:>11.3f}{r['decode']:>9.3f}{r['ratio']:>9.2f}{rng:>11}"
                  f"{tr:>12}{r['transport_ratio']:>11.2f}{r['bare']:>9.3f}{r['bare_ratio']:>11.2f}"
                  f"{r['transport_over_bare']:>14.2f}{mb / r['raw']:>9.0f}   {r['server']:.3f} "
                  f"({r['server_what']})", flush=True)
    seconds = 3.0 if args.quick else args.seconds
    u = bench_updates_per_second(numel, args.workers, seconds)
    print(f"server updates/s with {u['workers']} pushing workers in another process (top-k 1%, "
          f"{u['bytes_per_update'] / 1e6:.2f} MB each): {u['updates_per_second']:.2f} "
          f"({u['server_steps']} server steps from {u['pushes']} pushes in {u['seconds']:.1f} s)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "")
    print("network namespaces with shaped links: `dist-llm-train bench netns` (needs root)")
    return 0
