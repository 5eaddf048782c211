"""A TCP forwarder that adds a fixed one-way latency in each direction without limiting throughput.

Why: the kernel of the machines this project benchmarks on has no `netem`, so `tc` can shape
bandwidth (tbf/htb) but cannot delay packets. The relay sits between a worker and the server and
holds every chunk it reads for `delay` seconds before writing it on, in order. Reading never waits
for the delay (chunks queue with their due time), so a stream still moves at the rate of the
shaped link behind it: the transfer of N bytes costs `delay + N / rate`, like a WAN path.

What it does not model: TCP itself sees no extra round trip (the relay terminates TCP on both
sides), so slow start and window limits over the long path are not reproduced; HTTP/2 flow
control and every request/reply exchange above TCP do pay the delay, as on a real WAN.

Use it in-process (`LatencyRelay(...).start()` runs an asyncio loop on a thread) or as a process:
`python -m dist_llm_train.network.latency_relay --listen HOST:PORT --target HOST:PORT --delay-ms MS`.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import signal
import sys
import threading

#: bytes read per chunk; also the granularity of the delay queue
CHUNK = 64 * 1024
#: bytes a direction may hold in its delay queue before the relay stops reading (back-pressure)
DEFAULT_QUEUE_LIMIT = 64 * 1024 * 1024


def parse_hostport(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


class _Broken(Exception):
    """A write failed: the connection is torn down in both directions."""


class _Pipe:
    """One direction of one connection: read chunks, stamp them, write each one `delay` later."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float, limit: int):
        self.reader, self.writer, self.delay, self.limit = reader, writer, delay, limit
        self.queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self.queued = 0
        self.moved = 0
        self.have_data = asyncio.Event()
        self.room = asyncio.Event()
        self.room.set()

    async def read_side(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                await self.room.wait()
                data = await self.reader.read(CHUNK)
                self.queue.append((loop.time() + self.delay, data))  # b"" marks the end of the stream
                self.queued += len(data)
                if self.queued >= self.limit:
                    self.room.clear()
                self.have_data.set()
                if not data:
                    return
        except (ConnectionError, OSError):
            self.queue.append((loop.time(), b""))
            self.have_data.set()

    async def write_side(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                while not self.queue:
                    self.have_data.clear()
                    await self.have_data.wait()
                due, data = self.queue[0]
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                self.queue.popleft()
                if not data:
                    if self.writer.can_write_eof():
                        self.writer.write_eof()
                    await self.writer.drain()
                    return
                self.writer.write(data)
                await self.writer.drain()
                self.queued -= len(data)
                self.moved += len(data)
                if self.queued < self.limit:
                    self.room.set()
        except (ConnectionError, OSError) as exc:  # the far side is gone: end the whole connection
            raise _Broken(str(exc)) from exc


class LatencyRelay:
    """Listen on `listen`; for each connection open one to `target`; delay both directions by `delay_s`."""

    def __init__(self, listen: tuple[str, int], target: tuple[str, int], delay_s: float,
                 queue_limit: int = DEFAULT_QUEUE_LIMIT):
        if not delay_s >= 0:
            raise ValueError(f"delay must be >= 0 seconds, got {delay_s!r}")
        if queue_limit < CHUNK:
            raise ValueError(f"queue limit must be at least {CHUNK} bytes, got {queue_limit}")
        self.listen, self.target, self.delay, self.queue_limit = listen, target, float(delay_s), queue_limit
        self.connections = 0
        self.bytes_up = 0  # client -> target
        self.bytes_down = 0  # target -> client
        self.port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None

    async def _handle(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            t_reader, t_writer = await asyncio.open_connection(*self.target)
        except OSError:
            c_writer.close()
            return
        up = _Pipe(c_reader, t_writer, self.delay, self.queue_limit)
        down = _Pipe(t_reader, c_writer, self.delay, self.queue_limit)
        try:
            async with asyncio.TaskGroup() as tg:
                for coro in (up.read_side(), up.write_side(), down.read_side(), down.write_side()):
                    tg.create_task(coro)
        except* _Broken:
            pass
        finally:
            self.bytes_up += up.moved
            self.bytes_down += down.moved
            for w in (t_writer, c_writer):
                w.close()
                with contextlib.suppress(ConnectionError, OSError):
                    await w.wait_closed()

    async def serve(self, ready: threading.Event | None = None) -> None:
        """Run until `stop()` (or the task is cancelled)."""
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self._server = await asyncio.start_server(self._handle, *self.listen)
        self.port = self._server.sockets[0].getsockname()[1]
        if ready is not None:
            ready.set()
        async with self._server:
            await self._stopped.wait()

    def start(self) -> LatencyRelay:
        """Serve on a background thread; returns once listening (`self.port` is the bound port)."""
        ready = threading.Event()
        errors: list[BaseException] = []

        def main():
            try:
                asyncio.run(self.serve(ready))
            except BaseException as exc:  # reported to the caller of start()
                errors.append(exc)
                ready.set()

        self._thread = threading.Thread(target=main, daemon=True, name="latency-relay")
        self._thread.start()
        ready.wait(30.0)
        if errors:
            raise errors[0]
        if self.port is None:
            raise TimeoutError("the latency relay did not start listening within 30 s")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(10.0)

    def __enter__(self) -> LatencyRelay:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="latency_relay", description=__doc__.splitlines()[0])
    p.add_argument("--listen", required=True, help="HOST:PORT to accept connections on")
    p.add_argument("--target", required=True, help="HOST:PORT to forward each connection to")
    p.add_argument("--delay-ms", type=float, required=True, help="one-way delay added in each direction")
    p.add_argument("--ready-file", help="write the bound port here once listening")
    args = p.parse_args(argv)
    try:
        listen, target = parse_hostport(args.listen), parse_hostport(args.target)
        relay = LatencyRelay(listen, target, args.delay_ms / 1000.0)
    except ValueError as exc:
        p.error(str(exc))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    relay.start()
    if args.ready_file:
        with open(args.ready_file + ".tmp", "w") as fh:
            fh.write(str(relay.port))
        os.replace(args.ready_file + ".tmp", args.ready_file)
    print(f"relay {args.listen} -> {args.target}, +{args.delay_ms:g} ms each way (port {relay.port})", flush=True)
    while not stop.wait(0.5):
        pass
    relay.stop()
    print(f"relay done: {relay.connections} connections, {relay.bytes_up} bytes up, {relay.bytes_down} down",
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
