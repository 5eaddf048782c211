"""Transport benchmark: push and pull over the gRPC service against a raw socket moving the same bytes.

Loopback only, server and client in one process (as the raw socket's two threads are). For dense
fp16 and top-k 1% it times, repeat by repeat and interleaved with a raw TCP transfer of the same
number of bytes into a preallocated buffer:

- push: the client streams the envelope, the server receives it into its buffer, validates it and
  decodes it into its fp32 slot (the *transfer*), then the coordinator admits it and the server
  steps (the *server step*, timed by the server and reported in the reply, shown apart);
- pull full fp32: the stream of one version's snapshot into the client's buffer and its copy into
  the worker's replica;
- pull delta: the stream of the encoded delta, decoded into a preallocated vector and added to the
  replica (transfer), after the server encoded it (server encode, from the pull header, apart).

gRPC/raw is the raw socket's time over the transfer's. Then N client threads in another process
push top-k updates as fast as the server takes them: server updates per second.
"""

from __future__ import annotations

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
    from dist_llm_train.runtime.grpc.assembly import make_decoder, make_sparse_decoder
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
    core = ServerCore(ps, make_decoder(layout), decode_sparse=make_sparse_decoder(layout), num_workers=workers,
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


def _row(op: str, nbytes: int, samples: list[tuple[float, float, float]], raw: list[float],
         server_what: str = "") -> dict:
    """samples: (transfer seconds, of which decoding, server seconds) per repeat; raw: raw socket
    seconds per repeat. The ratio is best raw over best transfer; the range is repeat by repeat."""
    transfer = [s[0] for s in samples]
    ratios = [r / t for r, t in zip(raw, transfer)]
    best = min(range(len(samples)), key=lambda i: transfer[i])
    return {"op": op, "bytes": nbytes, "transfer": transfer[best], "decode": samples[best][1], "raw": min(raw),
            "ratio": min(raw) / min(transfer), "ratio_lo": min(ratios), "ratio_hi": max(ratios),
            "server": statistics.median(s[2] for s in samples), "server_what": server_what}


def bench_codec(spec: str, numel: int, repeats: int) -> list[dict]:
    """Push `spec` updates, then pull full copies and `spec` deltas, each beside a raw transfer."""
    from dist_llm_train.compression import make_codec
    from dist_llm_train.runtime.grpc import ps_pb2 as pb
    from dist_llm_train.runtime.grpc.client import apply_delta, dense_from_bytes

    server, port, tokens, core = _start(numel, spec, spec)
    raw = RawSocket(4 * numel + 4096)
    rows = []
    try:
        c = _client(port, 0, tokens[0])
        enc = make_codec(spec, layout=core.server.layout).encode(torch.randn(numel) * 1e-3)
        parts, nbytes = [enc.head(), enc.payload], enc.wire_bytes

        def push_once():
            return c.push(parts, core.server.version, 1, chunk_bytes=CHUNK)

        push_once()  # warm-up: buffers leased and connections open
        samples, raws = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            reply = push_once()
            wall = time.perf_counter() - t0
            samples.append((wall - reply.step_seconds, reply.decode_seconds, reply.step_seconds))
            raws.append(raw.seconds(nbytes))
        rows.append(_row(f"push {spec}", nbytes, samples, raws, "server step"))

        replica, delta = torch.empty(numel), torch.empty(numel)
        first = c.pull(want_delta=True)
        replica.copy_(dense_from_bytes(first.data, numel))
        seq = first.replica_seq
        samples, raws = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            got = c.pull()
            t1 = time.perf_counter()
            replica.copy_(dense_from_bytes(got.data, numel))
            wall = time.perf_counter() - t0
            samples.append((wall - got.server_seconds, time.perf_counter() - t1, got.server_seconds))
            raws.append(raw.seconds(4 * numel))
        rows.append(_row("pull full fp32", 4 * numel, samples, raws, "server snapshot"))

        first = c.pull(want_delta=True)  # the mirror restarts from this full copy
        replica.copy_(dense_from_bytes(first.data, numel))
        seq = first.replica_seq
        samples, raws = [], []
        for _ in range(repeats + 1):
            push_once()  # the parameters move, so the delta is a real one
            t0 = time.perf_counter()
            got = c.pull(want_delta=True, replica_seq=seq)
            if got.kind != pb.DELTA:
                raise RuntimeError(f"expected a delta pull, got kind {got.kind}")
            t1 = time.perf_counter()
            apply_delta(replica, got.data, scratch=delta)  # what the worker does
            wall = time.perf_counter() - t0
            seq, dbytes = got.replica_seq, len(got.data)
            samples.append((wall - got.server_seconds, time.perf_counter() - t1, got.server_seconds))
            raws.append(raw.seconds(dbytes))
        if not torch.equal(replica, core.downlink.replicas[0]):
            raise RuntimeError("the client's replica differs from the server's mirror of it")
        rows.append(_row(f"pull delta {spec}", dbytes, samples[1:], raws[1:], "server encode"))
        c.close()
    finally:
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
    torch.set_num_threads(1)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"gRPC transport on loopback, {numel:,} parameters, {repeats} repeats interleaved with the raw socket "
          f"(load average {load:.1f})")
    print("transfer = bytes moved, validated and decoded into the receiver's buffer (decode s: the part of "
          "it spent decoding and applying); the server's own work (step after a push, snapshot or encode before "
          "a pull) is timed by the server and shown apart")
    print(f"{'operation':<22}{'MB':>9}{'transfer s':>12}{'decode s':>10}{'MB/s':>8}{'raw MB/s':>10}{'grpc/raw':>10}"
          f"{'(range)':>13}   server s")
    for spec in ("fp16", "topk:0.01"):
        for r in bench_codec(spec, numel, repeats):
            mb = r["bytes"] / 1e6
            rng = f"{r['ratio_lo']:.2f}-{r['ratio_hi']:.2f}"
            print(f"{r['op']:<22}{mb:>9.1f}{r['transfer']:>12.3f}{r['decode']:>10.3f}{mb / r['transfer']:>8.0f}"
                  f"{mb / r['raw']:>10.0f}"
                  f"{r['ratio']:>10.2f}{rng:>13}   {r['server']:.3f} ({r['server_what']})", flush=True)
    seconds = 3.0 if args.quick else args.seconds
    u = bench_updates_per_second(numel, args.workers, seconds)
    print(f"server updates/s with {u['workers']} pushing workers in another process (top-k 1%, "
          f"{u['bytes_per_update'] / 1e6:.2f} MB each): {u['updates_per_second']:.2f} "
          f"({u['server_steps']} server steps from {u['pushes']} pushes in {u['seconds']:.1f} s)")
    print("network namespaces with shaped links: `dist-llm-train bench netns` (needs root)")
    return 0
