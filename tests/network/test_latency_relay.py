"""The latency relay on loopback: it adds the configured one-way delay, keeps bytes intact, and still streams.

Prepare an echo or sink server on 127.0.0.1, put a relay with a known delay in front of it,
execute round trips and bulk transfers through it, assert on the measured times and the bytes.
"""

from __future__ import annotations

import hashlib
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

import pytest

import dist_llm_train
from dist_llm_train.network.latency_relay import LatencyRelay, parse_hostport


class EchoServer:
    """Echo every byte back until the client half-closes; then close."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn):
        with conn:
            while data := conn.recv(1 << 16):
                conn.sendall(data)
            conn.shutdown(socket.SHUT_WR)

    def close(self):
        self.sock.close()


def _env_with_this_src() -> dict:
    """The child imports the same source tree as this test."""
    src = os.path.dirname(os.path.dirname(dist_llm_train.__file__))
    env = dict(os.environ)
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


@pytest.fixture
def echo():
    srv = EchoServer()
    yield srv
    srv.close()


def _recv_exactly(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(1 << 20, n - len(buf)))
        if not chunk:
            raise AssertionError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def test_round_trip_pays_the_delay_both_ways(echo):
    delay = 0.08
    with LatencyRelay(("127.0.0.1", 0), ("127.0.0.1", echo.port), delay) as relay, \
            socket.create_connection(("127.0.0.1", relay.port)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rtts = []
        for i in range(8):
            t0 = time.perf_counter()
            s.sendall(bytes([i]))
            assert _recv_exactly(s, 1) == bytes([i])
            rtts.append(time.perf_counter() - t0)
    rtt = statistics.median(rtts)
    assert 2 * delay <= rtt < 2 * delay + 0.06, f"median round trip {rtt * 1000:.1f} ms for {delay * 1000:.0f} ms/way"


def test_bulk_bytes_arrive_intact_and_in_order(echo):
    payload = os.urandom(6 * 1024 * 1024 + 17)  # not a multiple of the relay's chunk size
    with LatencyRelay(("127.0.0.1", 0), ("127.0.0.1", echo.port), 0.01) as relay:
        with socket.create_connection(("127.0.0.1", relay.port)) as s:
            sender = threading.Thread(target=lambda: (s.sendall(payload), s.shutdown(socket.SHUT_WR)))
            sender.start()
            got = _recv_exactly(s, len(payload))
            sender.join()
            assert s.recv(1) == b"", "the half-close was not relayed"
        deadline = time.monotonic() + 5
        while relay.bytes_up < len(payload) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()
    assert relay.bytes_up == relay.bytes_down == len(payload)
    assert relay.connections == 1


def test_the_delay_is_paid_once_per_stream_not_once_per_chunk():
    """40 MB through a 0.2 s relay: chunks queue while earlier ones wait, so the total is ~0.2 s + copy time."""
    nbytes, delay = 40 * 1024 * 1024, 0.2
    sink = socket.create_server(("127.0.0.1", 0))
    received = {}

    def drain():
        conn, _ = sink.accept()
        with conn:
            got, first = 0, None
            while chunk := conn.recv(1 << 20):
                first = first or time.perf_counter()
                got += len(chunk)
            received.update(bytes=got, first=first, last=time.perf_counter())

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    with LatencyRelay(("127.0.0.1", 0), sink.getsockname(), delay) as relay:
        with socket.create_connection(("127.0.0.1", relay.port)) as s:
            t0 = time.perf_counter()
            s.sendall(memoryview(bytearray(nbytes)))
        t.join(60)
    sink.close()
    assert received["bytes"] == nbytes
    assert received["first"] - t0 >= delay, "the first byte arrived before the delay"
    total = received["last"] - t0
    # one delay per chunk would be 640 chunks x 0.2 s = 128 s; a streaming relay needs the delay plus copying
    assert total < delay + 8.0, f"{nbytes / 1e6:.0f} MB took {total:.1f} s through a {delay} s relay"


def test_the_relay_runs_as_a_process_and_stops_on_sigterm(echo, tmp_path):
    ready = tmp_path / "port"
    proc = subprocess.Popen([sys.executable, "-m", "dist_llm_train.network.latency_relay", "--listen", "127.0.0.1:0",
                             "--target", f"127.0.0.1:{echo.port}", "--delay-ms", "30", "--ready-file", str(ready)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env_with_this_src())
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "the relay process did not listen"
            time.sleep(0.05)
        with socket.create_connection(("127.0.0.1", int(ready.read_text()))) as s:
            t0 = time.perf_counter()
            s.sendall(b"ping")
            assert _recv_exactly(s, 4) == b"ping"
            assert time.perf_counter() - t0 >= 0.06
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "1 connections" in out


@pytest.mark.parametrize("text", ["localhost", ":80", "host:", "host:99999", "host:port"])
def test_bad_addresses_are_refused_with_the_text(text):
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_hostport(text)


def test_bad_delay_and_queue_limit_are_refused():
    with pytest.raises(ValueError, match="delay"):
        LatencyRelay(("127.0.0.1", 0), ("127.0.0.1", 1), -0.1)
    with pytest.raises(ValueError, match="queue limit"):
        LatencyRelay(("127.0.0.1", 0), ("127.0.0.1", 1), 0.1, queue_limit=10)
