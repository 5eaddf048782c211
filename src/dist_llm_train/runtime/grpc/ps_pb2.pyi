from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RunState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_STATE_UNSPECIFIED: _ClassVar[RunState]
    WAITING: _ClassVar[RunState]
    RUNNING: _ClassVar[RunState]
    PAUSED: _ClassVar[RunState]
    DONE: _ClassVar[RunState]

class PullKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PULL_KIND_UNSPECIFIED: _ClassVar[PullKind]
    FULL: _ClassVar[PullKind]
    DELTA: _ClassVar[PullKind]
    NOT_READY: _ClassVar[PullKind]
    FINISHED: _ClassVar[PullKind]
RUN_STATE_UNSPECIFIED: RunState
WAITING: RunState
RUNNING: RunState
PAUSED: RunState
DONE: RunState
PULL_KIND_UNSPECIFIED: PullKind
FULL: PullKind
DELTA: PullKind
NOT_READY: PullKind
FINISHED: PullKind

class RegisterRequest(_message.Message):
    __slots__ = ("worker_id", "client_version", "wire_version", "hostname")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    WIRE_VERSION_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    worker_id: int
    client_version: str
    wire_version: int
    hostname: str
    def __init__(self, worker_id: _Optional[int] = ..., client_version: _Optional[str] = ..., wire_version: _Optional[int] = ..., hostname: _Optional[str] = ...) -> None: ...

class RegisterReply(_message.Message):
    __slots__ = ("session", "run_config_json", "layout_sha256", "numel", "version", "uplink_codec", "downlink_codec", "max_push_bytes", "chunk_bytes", "heartbeat_interval", "state", "message", "num_workers")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    RUN_CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    LAYOUT_SHA256_FIELD_NUMBER: _ClassVar[int]
    NUMEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UPLINK_CODEC_FIELD_NUMBER: _ClassVar[int]
    DOWNLINK_CODEC_FIELD_NUMBER: _ClassVar[int]
    MAX_PUSH_BYTES_FIELD_NUMBER: _ClassVar[int]
    CHUNK_BYTES_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    NUM_WORKERS_FIELD_NUMBER: _ClassVar[int]
    session: str
    run_config_json: str
    layout_sha256: str
    numel: int
    version: int
    uplink_codec: str
    downlink_codec: str
    max_push_bytes: int
    chunk_bytes: int
    heartbeat_interval: float
    state: RunState
    message: str
    num_workers: int
    def __init__(self, session: _Optional[str] = ..., run_config_json: _Optional[str] = ..., layout_sha256: _Optional[str] = ..., numel: _Optional[int] = ..., version: _Optional[int] = ..., uplink_codec: _Optional[str] = ..., downlink_codec: _Optional[str] = ..., max_push_bytes: _Optional[int] = ..., chunk_bytes: _Optional[int] = ..., heartbeat_interval: _Optional[float] = ..., state: _Optional[_Union[RunState, str]] = ..., message: _Optional[str] = ..., num_workers: _Optional[int] = ...) -> None: ...

class PullRequest(_message.Message):
    __slots__ = ("worker_id", "min_version", "want_delta", "replica_seq", "wait_seconds")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    MIN_VERSION_FIELD_NUMBER: _ClassVar[int]
    WANT_DELTA_FIELD_NUMBER: _ClassVar[int]
    REPLICA_SEQ_FIELD_NUMBER: _ClassVar[int]
    WAIT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    worker_id: int
    min_version: int
    want_delta: bool
    replica_seq: int
    wait_seconds: float
    def __init__(self, worker_id: _Optional[int] = ..., min_version: _Optional[int] = ..., want_delta: _Optional[bool] = ..., replica_seq: _Optional[int] = ..., wait_seconds: _Optional[float] = ...) -> None: ...

class PullHeader(_message.Message):
    __slots__ = ("kind", "version", "numel", "total_bytes", "replica_seq", "state", "message", "codec")
    KIND_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    NUMEL_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    REPLICA_SEQ_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CODEC_FIELD_NUMBER: _ClassVar[int]
    kind: PullKind
    version: int
    numel: int
    total_bytes: int
    replica_seq: int
    state: RunState
    message: str
    codec: str
    def __init__(self, kind: _Optional[_Union[PullKind, str]] = ..., version: _Optional[int] = ..., numel: _Optional[int] = ..., total_bytes: _Optional[int] = ..., replica_seq: _Optional[int] = ..., state: _Optional[_Union[RunState, str]] = ..., message: _Optional[str] = ..., codec: _Optional[str] = ...) -> None: ...

class PullChunk(_message.Message):
    __slots__ = ("header", "data")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    header: PullHeader
    data: bytes
    def __init__(self, header: _Optional[_Union[PullHeader, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class PushHeader(_message.Message):
    __slots__ = ("worker_id", "base_version", "n_samples", "total_bytes", "loss", "compute_seconds")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    BASE_VERSION_FIELD_NUMBER: _ClassVar[int]
    N_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    worker_id: int
    base_version: int
    n_samples: int
    total_bytes: int
    loss: float
    compute_seconds: float
    def __init__(self, worker_id: _Optional[int] = ..., base_version: _Optional[int] = ..., n_samples: _Optional[int] = ..., total_bytes: _Optional[int] = ..., loss: _Optional[float] = ..., compute_seconds: _Optional[float] = ...) -> None: ...

class PushChunk(_message.Message):
    __slots__ = ("header", "data")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    header: PushHeader
    data: bytes
    def __init__(self, header: _Optional[_Union[PushHeader, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class PushReply(_message.Message):
    __slots__ = ("accepted", "reason", "staleness", "bound", "version", "stepped", "state", "bytes_received")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STALENESS_FIELD_NUMBER: _ClassVar[int]
    BOUND_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STEPPED_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    BYTES_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    accepted: bool
    reason: str
    staleness: int
    bound: int
    version: int
    stepped: bool
    state: RunState
    bytes_received: int
    def __init__(self, accepted: _Optional[bool] = ..., reason: _Optional[str] = ..., staleness: _Optional[int] = ..., bound: _Optional[int] = ..., version: _Optional[int] = ..., stepped: _Optional[bool] = ..., state: _Optional[_Union[RunState, str]] = ..., bytes_received: _Optional[int] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("worker_id", "phase", "replica_version")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    REPLICA_VERSION_FIELD_NUMBER: _ClassVar[int]
    worker_id: int
    phase: str
    replica_version: int
    def __init__(self, worker_id: _Optional[int] = ..., phase: _Optional[str] = ..., replica_version: _Optional[int] = ...) -> None: ...

class HeartbeatReply(_message.Message):
    __slots__ = ("version", "state", "message", "interval")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    version: int
    state: RunState
    message: str
    interval: float
    def __init__(self, version: _Optional[int] = ..., state: _Optional[_Union[RunState, str]] = ..., message: _Optional[str] = ..., interval: _Optional[float] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatusReply(_message.Message):
    __slots__ = ("json",)
    JSON_FIELD_NUMBER: _ClassVar[int]
    json: str
    def __init__(self, json: _Optional[str] = ...) -> None: ...
