"""How the service is bound to gRPC: method paths, serializers, channel options, chunking.

The service is registered with gRPC's generic handlers instead of protoc's *_pb2_grpc.py, whose
generated code refuses to import under a grpcio older than the generator. The method table below
is the whole binding; ps.proto stays the source of truth for the messages.
"""

from __future__ import annotations

from collections.abc import Iterator

from dist_llm_train.runtime.grpc import ps_pb2 as pb

SERVICE = "dist_llm_train.ps.v1.ParameterServer"

#: name -> (request type, reply type, request streaming, reply streaming)
METHODS = {
    "Register": (pb.RegisterRequest, pb.RegisterReply, False, False),
    "Pull": (pb.PullRequest, pb.PullChunk, False, True),
    "Push": (pb.PushChunk, pb.PushReply, True, False),
    "Heartbeat": (pb.HeartbeatRequest, pb.HeartbeatReply, False, False),
    "Status": (pb.StatusRequest, pb.StatusReply, False, False),
}

MD_AUTH = "authorization"
MD_WORKER = "x-dlt-worker-id"
MD_SESSION = "x-dlt-session"

#: payload bytes per streamed message; gRPC's frames are ~16 KiB, larger messages amortise overhead
DEFAULT_CHUNK_BYTES = 1 << 20
#: a message may be a chunk plus its envelope; the limit is what each side accepts
MAX_MESSAGE_BYTES = 64 << 20


def path(method: str) -> str:
    return f"/{SERVICE}/{method}"


def channel_options(max_message: int = MAX_MESSAGE_BYTES) -> list[tuple[str, int]]:
    """Message size limits and keepalive for long-lived worker connections across NATs and WANs."""
    return [
        ("grpc.max_send_message_length", max_message),
        ("grpc.max_receive_message_length", max_message),
        ("grpc.keepalive_time_ms", 20_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
    ]


def server_options(max_message: int = MAX_MESSAGE_BYTES) -> list[tuple[str, int]]:
    return channel_options(max_message) + [
        ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
        ("grpc.so_reuseport", 0),
    ]


def chunks(data: bytes | memoryview, chunk_bytes: int) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(view), chunk_bytes):
        yield bytes(view[start : start + chunk_bytes])
