"""grpcio alone moving the same bytes: the floor under the service's push and pull.

The transport benchmark compares each push and pull with a raw TCP transfer of the same bytes.
Part of the gap is grpcio's own: its Python layer hands every message between threads and copies
it into and out of its slices. To tell that part from what the service adds (authentication,
header and framing checks, buffer leases, decoding), this module streams the same number of
bytes, in the same frames and with the same channel options, through a bare grpcio method that
does nothing but write them into a preallocated buffer (push) or send them from one (pull).
Benchmark use only: no authentication, loopback.
"""

from __future__ import annotations

import time
from concurrent import futures

import grpc

from dist_llm_train.runtime.grpc.wire import channel_options, frames, server_options

SERVICE = "dist_llm_train.bench.v1.BareStream"


class BareSink:
    """The server's end: Push writes the frames into a preallocated buffer and answers b"";
    Pull answers a request of an 8-byte little-endian length with that many bytes in frames."""

    def __init__(self, nbytes: int, chunk_bytes: int, host: str = "127.0.0.1"):
        self.sink = memoryview(bytearray(nbytes))
        self.payload = memoryview(bytearray(b"\x01") * nbytes)
        self.chunk_bytes = chunk_bytes
        handlers = {"Push": grpc.stream_unary_rpc_method_handler(self._push),
                    "Pull": grpc.unary_stream_rpc_method_handler(self._pull)}
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="bare"),
                                  options=server_options())
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
        self.port = self.server.add_insecure_port(f"{host}:0")
        self.server.start()

    def _push(self, request_iterator, context) -> bytes:
        pos = 0
        for frame in request_iterator:
            n = len(frame)
            if pos + n > len(self.sink):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "more bytes than the sink holds")
            self.sink[pos : pos + n] = frame
            pos += n
        return b""

    def _pull(self, request: bytes, context):
        n = int.from_bytes(request[:8], "little")
        if not 0 < n <= len(self.payload):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"asked for {n} bytes, have {len(self.payload)}")
        yield from frames(self.payload[:n], self.chunk_bytes)

    def stop(self) -> None:
        self.server.stop(None)


class BareClient:
    """The worker's end: times one bare push or pull of nbytes, as the service's calls are timed."""

    def __init__(self, port: int, nbytes: int, chunk_bytes: int, host: str = "127.0.0.1"):
        self.channel = grpc.insecure_channel(f"{host}:{port}", options=channel_options())
        self._push = self.channel.stream_unary(f"/{SERVICE}/Push")
        self._pull = self.channel.unary_stream(f"/{SERVICE}/Pull")
        self.payload = memoryview(bytearray(b"\x01") * nbytes)
        self.sink = memoryview(bytearray(nbytes))
        self.chunk_bytes = chunk_bytes

    def seconds(self, direction: str, nbytes: int) -> float:
        if not 0 < nbytes <= len(self.payload):
            raise ValueError(f"nbytes must be in 1..{len(self.payload)}, got {nbytes}")
        t0 = time.perf_counter()
        if direction == "up":
            self._push(frames(self.payload[:nbytes], self.chunk_bytes), timeout=120)
        else:
            pos = 0
            for frame in self._pull(nbytes.to_bytes(8, "little"), timeout=120):
                self.sink[pos : pos + len(frame)] = frame
                pos += len(frame)
            if pos != nbytes:
                raise ConnectionError(f"bare pull ended after {pos} of {nbytes} bytes")
        return time.perf_counter() - t0

    def close(self) -> None:
        self.channel.close()
