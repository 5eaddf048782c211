"""Measure one path's round-trip time and its throughput in each direction, with a tiny TCP protocol.

Why: a shaped link is only worth benchmarking against if it does what it was configured to do, so
the netns benchmark checks each link (through its relay) before the training run. The probe
server runs on the hub side, the client on the worker side, each possibly in its own namespace
(hence the command line); both print JSON.

Protocol on one connection: `p` -> `p` (a round trip); `d` + N (8 bytes) -> N bytes (the client
times first to last byte: downlink rate); `u` + N + N bytes -> 8-byte float, the seconds the server
saw between the first and last byte (uplink rate). Timing from first to last byte leaves the
latency out of the rate; the RTT is measured on its own.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import time

from dist_llm_train.network.latency_relay import parse_hostport
from dist_llm_train.network.netns import python_env

_BUF = 1 << 20


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(_BUF, n - len(buf)))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def _drain(sock: socket.socket, n: int) -> tuple[float, float]:
    """Receive and discard n bytes; (time of the first byte, time of the last)."""
    view = memoryview(bytearray(_BUF))
    got, first = 0, None
    while got < n:
        k = sock.recv_into(view, min(_BUF, n - got))
        if k == 0:
            raise ConnectionError(f"connection closed after {got} of {n} bytes")
        if first is None:
            first = time.perf_counter()
        got += k
    return first, time.perf_counter()


def serve_one(listener: socket.socket) -> None:
    """Answer one client until it disconnects."""
    conn, _ = listener.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    payload = memoryview(bytearray(b"\x5a") * _BUF)
    with conn:
        while cmd := conn.recv(1):
            if cmd == b"p":
                conn.sendall(b"p")
            elif cmd == b"d":
                (n,) = struct.unpack("!Q", _recv_exactly(conn, 8))
                while n > 0:
                    k = min(n, _BUF)
                    conn.sendall(payload[:k])
                    n -= k
            elif cmd == b"u":
                (n,) = struct.unpack("!Q", _recv_exactly(conn, 8))
                first, last = _drain(conn, n)
                conn.sendall(struct.pack("!d", last - first))
            else:
                raise ValueError(f"link probe: unknown command {cmd!r}")


def probe(target: tuple[str, int], nbytes_down: int, nbytes_up: int, pings: int = 7) -> dict:
    """RTT (median of `pings`), and Mbps down and up, measured against a probe server at `target`."""
    if pings < 1 or nbytes_down < 1 or nbytes_up < 1:
        raise ValueError("link probe: pings and byte counts must be >= 1")
    with socket.create_connection(target, timeout=120) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rtts = []
        for _ in range(pings):
            t0 = time.perf_counter()
            s.sendall(b"p")
            _recv_exactly(s, 1)
            rtts.append(time.perf_counter() - t0)
        s.sendall(b"d" + struct.pack("!Q", nbytes_down))
        first, last = _drain(s, nbytes_down)
        down_s = last - first
        s.sendall(b"u" + struct.pack("!Q", nbytes_up))
        block = memoryview(bytearray(b"\xa5") * _BUF)
        left = nbytes_up
        while left > 0:
            k = min(left, _BUF)
            s.sendall(block[:k])
            left -= k
        (up_s,) = struct.unpack("!d", _recv_exactly(s, 8))
    return {"rtt_ms": statistics.median(rtts) * 1000, "rtt_min_ms": min(rtts) * 1000,
            "down_mbps": nbytes_down * 8 / down_s / 1e6, "up_mbps": nbytes_up * 8 / up_s / 1e6,
            "bytes_down": nbytes_down, "bytes_up": nbytes_up}


def measure_link(lab, link, seconds: float = 1.5, max_bytes: int = 64 << 20) -> dict:
    """Probe `link` of a NetnsLab end to end: probe server in the hub, relay in front, client in the worker's
    namespace. Transfers last about `seconds` at the configured rates (at most `max_bytes`). Returns the
    measured figures next to the configured ones (`rtt_ms` configured = 2 x one-way latency)."""
    tag = f"probe-{link.index}"
    ready = os.path.join(lab.workdir, tag + ".port")
    server = lab.spawn_python(lab.hub, "dist_llm_train.network.link_probe",
                              ["serve", "--listen", "127.0.0.1:0", "--ready-file", ready], tag + "-server.log")
    try:
        port = lab.wait_ready(ready, server, tag + "-server.log")
        relay_port = lab.start_relay(link, port)

        def nbytes(mbps):
            return int(max(256 << 10, min(max_bytes, mbps * 1e6 / 8 * seconds)))

        argv = [sys.executable, "-m", "dist_llm_train.network.link_probe", "probe", "--target",
                f"{link.hub_ip}:{relay_port}", "--bytes-down", str(nbytes(link.down_mbps)),
                "--bytes-up", str(nbytes(link.up_mbps))]
        out = subprocess.run(["ip", "netns", "exec", link.netns, *argv], capture_output=True, text=True,
                             env=python_env(1), timeout=300)
        if out.returncode != 0:
            raise RuntimeError(f"link probe on {link.name} failed: {out.stderr.strip()}")
        got = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        lab.stop_process(server)
    return {"link": link.name, "configured_rtt_ms": 2 * link.latency_ms, "configured_down_mbps": link.down_mbps,
            "configured_up_mbps": link.up_mbps, **got}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="link_probe", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="role", required=True)
    s = sub.add_parser("serve", help="answer one probe client, then exit")
    s.add_argument("--listen", required=True, help="HOST:PORT")
    s.add_argument("--ready-file", help="write the bound port here once listening")
    c = sub.add_parser("probe", help="measure against a probe server; prints JSON")
    c.add_argument("--target", required=True, help="HOST:PORT")
    c.add_argument("--bytes-down", type=int, required=True)
    c.add_argument("--bytes-up", type=int, required=True)
    c.add_argument("--pings", type=int, default=7)
    args = p.parse_args(argv)
    if args.role == "serve":
        listener = socket.create_server(parse_hostport(args.listen))
        if args.ready_file:
            with open(args.ready_file + ".tmp", "w") as fh:
                fh.write(str(listener.getsockname()[1]))
            os.replace(args.ready_file + ".tmp", args.ready_file)
        with listener:
            serve_one(listener)
        return 0
    print(json.dumps(probe(parse_hostport(args.target), args.bytes_down, args.bytes_up, args.pings)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
