"""Transport benchmark: push and pull over the gRPC service against a raw socket moving the same bytes.

Loopback only. For each codec (dense fp16, top-k 1%) it times a push (stream, validate, decode,
server step) and a pull (full fp32 copy, and a compressed delta), and, in the same run, a raw TCP
transfer of the same number of bytes into a preallocated buffer: the ratio is what the protocol
costs over the wire itself. Then 8 client threads in another process push top-k updates as fast
as the server takes them: server updates per second.
"""

from __future__ import annotations

import multiprocessing as mp
import socket
import threading
import time

import torch


def add_arguments(p) -> None:
    p.add_argument("--params", type=int, default=124_439_808, help="model size (default: GPT-2 small)")
    p.add_argument("--quick", action="store_true", help="10M parameters, fewer repeats")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--workers", type=int, default=8, help="concurrent pushing clients for updates/s")
    p.add_argument("--seconds", type=float, default=10.0, help="duration of the updates/s measurement")


def raw_socket_seconds(nbytes: int) -> float:
    """Send nbytes over a loopback TCP connection into a preallocated buffer; returns the seconds."""
    payload = memoryview(bytearray(b"\x01") * nbytes)
    sink = bytearray(nbytes)
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
    cli.sendall(payload)
    done.wait()
    dt = time.perf_counter() - t0
    cli.close()
    srv.close()
    t.join()
    return dt


def _start(numel: int, downlink: str | None):
    from dist_llm_train.aggregation import make_aggregator
    from dist_llm_train.compression import decode_bytes, make_codec
    from dist_llm_train.config.schema import OptimizerConfig
    from dist_llm_train.layout import ParamLayout
    from dist_llm_train.runtime.grpc.auth import Authenticator
    from dist_llm_train.runtime.grpc.server_core import ServerCore
    from dist_llm_train.runtime.grpc.service import ParameterServerService, start_server
    from dist_llm_train.runtime.grpc.tokens import TokenStore
    from dist_llm_train.sync import BoundedAsyncCoordinator, ParameterServer
    from dist_llm_train.sync.downlink import DownlinkMirror

    layout = ParamLayout([("w", (numel,))])
    coord = BoundedAsyncCoordinator(num_workers=9, max_staleness=1 << 30, aggregator=make_aggregator("mean", f=0))
    ps = ParameterServer(initial_params=torch.randn(numel), layout=layout, optimizer=OptimizerConfig(name="sgd"),
                         coordinator=coord)
    dl = DownlinkMirror(make_codec(downlink, layout=layout)) if downlink else None
    core = ServerCore(ps, lambda b: decode_bytes(b, expected_numel=numel, layout=layout), num_workers=9,
                      max_server_steps=1 << 40, min_workers=1, downlink=dl, push_rate=0)
    store = TokenStore()
    tokens = {w: store.issue(w) for w in range(9)}
    spec = "topk:0.01" if downlink == "topk:0.01" else "fp16"
    svc = ParameterServerService(core, Authenticator(store), run_config_json="{}", layout_sha256="",
                                 uplink_codec=make_codec(spec, layout=layout).spec,
                                 downlink_codec=dl.codec.spec if dl else "", chunk_bytes=4 << 20)
    server, port = start_server(svc, "127.0.0.1", 0)
    return server, port, tokens, core


def _client(port: int, wid: int, token: str):
    from dist_llm_train.runtime.grpc.client import WorkerClient

    c = WorkerClient(f"127.0.0.1:{port}", wid, token)
    c.register()
    return c


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_codec(spec: str, numel: int, repeats: int) -> list[dict]:
    from dist_llm_train.compression import make_codec
    from dist_llm_train.runtime.grpc import ps_pb2 as pb

    server, port, tokens, core = _start(numel, spec)
    rows = []
    try:
        c = _client(port, 0, tokens[0])
        data = make_codec(spec, layout=core.server.layout).encode(torch.randn(numel)).to_bytes()
        t_push = _best(lambda: c.push(data, core.server.version, 1, chunk_bytes=4 << 20), repeats)
        rows.append({"op": f"push {spec}", "bytes": len(data), "seconds": t_push,
                     "raw_seconds": min(raw_socket_seconds(len(data)) for _ in range(repeats))})
        first = c.pull(want_delta=True)
        t_full = _best(lambda: c.pull(), repeats)
        rows.append({"op": "pull full fp32", "bytes": 4 * numel, "seconds": t_full,
                     "raw_seconds": min(raw_socket_seconds(4 * numel) for _ in range(repeats))})
        seq = [first.replica_seq]

        def delta():
            got = c.pull(want_delta=True, replica_seq=seq[0])
            assert got.kind == pb.DELTA
            seq[0] = got.replica_seq
            delta.nbytes = len(got.data)

        first = c.pull(want_delta=True)
        seq[0] = first.replica_seq
        t_delta = _best(delta, repeats)
        rows.append({"op": f"pull delta {spec}", "bytes": delta.nbytes, "seconds": t_delta,
                     "raw_seconds": min(raw_socket_seconds(delta.nbytes) for _ in range(repeats))})
        c.close()
    finally:
        server.stop(None)
    return rows


def _pusher(port: int, tokens: dict, workers: int, data: bytes, seconds: float, out) -> None:
    counts = [0] * workers

    def run(i):
        c = _client(port, i + 1, tokens[i + 1])
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            c.push(data, 0, 1, chunk_bytes=4 << 20)
            counts[i] += 1
        c.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(sum(counts))


def bench_updates_per_second(numel: int, workers: int, seconds: float) -> dict:
    from dist_llm_train.compression import make_codec

    server, port, tokens, core = _start(numel, "topk:0.01")
    try:
        data = make_codec("topk:0.01", layout=core.server.layout).encode(torch.randn(numel)).to_bytes()
        ctx = mp.get_context("spawn")
        q = ctx.Queue()
        proc = ctx.Process(target=_pusher, args=(port, tokens, workers, data, seconds, q))
        v0 = core.server.version
        t0 = time.perf_counter()
        proc.start()
        pushes = q.get(timeout=seconds + 300)
        proc.join()
        dt = time.perf_counter() - t0
        return {"workers": workers, "pushes": pushes, "server_steps": core.server.version - v0,
                "updates_per_second": pushes / seconds, "wall": dt, "bytes_per_update": len(data)}
    finally:
        server.stop(None)


def run(args) -> int:
    numel = 10_000_000 if args.quick else args.params
    repeats = 1 if args.quick else args.repeats
    torch.set_num_threads(1)
    print(f"gRPC transport on loopback, {numel:,} parameters (best of {repeats})")
    print(f"{'operation':<22}{'MB':>10}{'seconds':>10}{'MB/s':>10}{'raw MB/s':>10}{'grpc/raw':>10}")
    for spec in ("fp16", "topk:0.01"):
        for r in bench_codec(spec, numel, repeats):
            mb = r["bytes"] / 1e6
            print(f"{r['op']:<22}{mb:>10.1f}{r['seconds']:>10.3f}{mb / r['seconds']:>10.0f}"
                  f"{mb / r['raw_seconds']:>10.0f}{r['raw_seconds'] / r['seconds']:>10.2f}")
    seconds = 3.0 if args.quick else args.seconds
    u = bench_updates_per_second(numel, args.workers, seconds)
    print(f"server updates/s with {u['workers']} pushing workers (top-k 1%, {u['bytes_per_update'] / 1e6:.2f} MB "
          f"each): {u['updates_per_second']:.1f} ({u['pushes']} pushes, {u['server_steps']} server steps)")
    print("network namespaces with shaped links: `dist-llm-train bench netns` (needs root)")
    return 0
