"""The run configuration: one pydantic model for a whole run, one section per layer.

Every section forbids unknown keys, so a typo is an error that names the key and the allowed
ones instead of a setting silently ignored. Values whose allowed set lives in a layer's registry
(a codec string, an aggregation rule, a model name) are checked against that registry, so the
config never drifts from what the code can build.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelConfig(Section):
    name: str = Field("gpt2-tiny", description="model preset, see `dist-llm-train list models`")
    init: Literal["pretrained", "random", "auto"] = Field(
        "auto", description="auto: pretrained when the preset has weights on this machine, else random"
    )
    path: str | None = Field(None, description="local directory or file with weights or a tokenizer")
    tokenizer: str | None = Field(None, description="path to a tokenizer of your own")

    @field_validator("name")
    @classmethod
    def _known_model(cls, v: str) -> str:
        from dist_llm_train.config.registry_check import check_model

        return check_model(v)


class DataConfig(Section):
    corpus: str = Field("wiki", description="wiki | shakespeare | kjv | wikitext-2 | text:PATH | parquet:PATH")
    seq_len: int = Field(128, ge=8, le=8192)
    batch_size: int = Field(8, ge=1, description="sequences per worker per local step")
    sharding: Literal["iid", "non_iid", "dirichlet"] = "iid"
    dirichlet_alpha: float = Field(0.5, gt=0)
    mlm_probability: float = Field(0.15, gt=0, lt=1)
    max_train_tokens: int | None = Field(None, ge=1)

    @field_validator("corpus")
    @classmethod
    def _known_corpus(cls, v: str) -> str:
        from dist_llm_train.config.registry_check import check_corpus

        return check_corpus(v)


class OptimizerConfig(Section):
    """The server (outer) optimizer, applied to each aggregated update."""

    name: Literal["sgd", "momentum", "nesterov", "adam", "adamw"] = "adamw"
    lr: float = Field(1e-3, gt=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = Field(1e-8, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    warmup_steps: int = Field(0, ge=0)
    schedule: Literal["constant", "cosine"] = "constant"
    min_lr_ratio: float = Field(0.1, ge=0, le=1)

    @field_validator("betas")
    @classmethod
    def _betas_in_range(cls, v: tuple[float, float]) -> tuple[float, float]:
        bad = [b for b in v if not 0 <= b < 1]
        if bad:
            raise ValueError(f"each of Adam's betas must be in [0, 1), e.g. [0.9, 0.999]; {bad} is not")
        return v


class WorkerConfig(Section):
    """What each worker does between a pull and a push."""

    local_steps: int = Field(1, ge=1, description="H: 1 = push one gradient; >1 = DiLoCo pseudo-gradient")
    local_optimizer: Literal["sgd", "adamw"] = "adamw"
    local_lr: float = Field(1e-3, gt=0)
    local_warmup_steps: int = Field(0, ge=0, description="linear warm-up of local_lr over this many local steps")
    local_schedule: Literal["constant", "cosine"] = Field(
        "constant", description="cosine: decay local_lr to local_min_lr_ratio x over the worker's planned local "
        "steps (its share of max_server_steps' updates, or of max_samples when fewer; needs local_steps > 1)")
    local_min_lr_ratio: float = Field(0.1, ge=0, le=1)
    local_second_moment: Literal["own", "averaged"] = Field(
        "own", description="averaged: the inner AdamW rescales its second moment to the gradient noise of the "
        "average of the updates a server step aggregates (see FlatLocalOptimizer); own: plain AdamW")
    clip_norm: float | None = Field(
        1.0, gt=0, description="clip each gradient to this L2 norm (with local_steps > 1: each local "
        "gradient, not the pseudo-gradient); null = off")


class CompressionConfig(Section):
    codec: str = Field("none", description="codec spec, e.g. topk:0.05+fp16, qsgd:256, powersgd:4, none")
    error_feedback: bool = True
    downlink: str = Field(
        "none", description="codec for server->worker parameter deltas (error-fed per worker); none = dense fp32"
    )

    @field_validator("codec", "downlink")
    @classmethod
    def _known_codec(cls, v: str) -> str:
        from dist_llm_train.config.registry_check import check_codec

        return check_codec(v)


class AggregationConfig(Section):
    rule: str = Field("mean", description="mean | median | trimmed_mean | krum | multikrum | bulyan | ...")
    f: int = Field(0, ge=0, description="number of Byzantine inputs the rule must tolerate")
    pre: list[str] = Field(default_factory=list, description="pre-aggregators, e.g. ['nnm', 'bucketing:2']")
    params: dict[str, Any] = Field(default_factory=dict, description="extra arguments of the rule")
    momentum: float = Field(
        0.0, ge=0, lt=1,
        description="beta of a per-worker moving average of the inputs, which the rule sees instead of the "
        "latest input (0 = off); see sync/input_momentum.py",
    )

    @field_validator("rule")
    @classmethod
    def _known_rule(cls, v: str) -> str:
        from dist_llm_train.config.registry_check import check_aggregator

        return check_aggregator(v)


class ByzantineConfig(Section):
    count: int = Field(0, ge=0, description="how many workers are malicious (the last `count` worker ids)")
    workers: list[int] | None = Field(None, description="explicit Byzantine worker ids (overrides count)")
    attack: str = Field("sign_flip", description="attack name, see `dist-llm-train list attacks`")
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("attack")
    @classmethod
    def _known_attack(cls, v: str) -> str:
        from dist_llm_train.config.registry_check import check_attack

        return check_attack(v)


class SyncConfig(Section):
    mode: Literal["sync", "async"] = "async"
    max_staleness: int = Field(50, ge=0, description="fixed bound, or the base of the adaptive bound")
    adaptive_staleness: bool = False
    adaptive_multiplier: float = Field(20.0, ge=0)
    staleness_weighting: Literal["none", "inverse", "exp"] = "none"
    staleness_exp_a: float = Field(0.1, gt=0)
    staleness_lr: bool = Field(False, description="scale the server lr by 1/max(1, staleness)")
    buffer_size: int | None = Field(
        None, ge=1, description="K updates per server step; default 1 for async, n for sync"
    )
    pull_policy: Literal["fresh", "always"] = Field(
        "fresh",
        description="fresh: a worker computes at most once per server version (waits for a newer one); "
        "always: it keeps computing on the version it has, and its extra updates are merged",
    )


class LinkConfig(Section):
    """One worker (or `count` identical workers) and its link to the server."""

    name: str
    count: int = Field(1, ge=1)
    bandwidth: float | None = Field(None, gt=0, description="Mbps both ways (shorthand)")
    bandwidth_up: float | None = Field(None, gt=0, description="Mbps worker -> server")
    bandwidth_down: float | None = Field(None, gt=0, description="Mbps server -> worker")
    latency: float = Field(0.0, ge=0, description="one-way ms")
    jitter: float = Field(0.0, ge=0, description="ms, std of the latency")
    loss: float = Field(0.0, ge=0, lt=1, description="packet loss rate, paid as retransmission time")
    speed: float = Field(1.0, gt=0, description="compute speed relative to the reference worker")
    hardware: str | None = Field(None, description="hardware profile name instead of a speed factor")

    @model_validator(mode="after")
    def _has_bandwidth(self) -> LinkConfig:
        if self.bandwidth is None and (self.bandwidth_up is None or self.bandwidth_down is None):
            raise ValueError(
                f"worker {self.name!r} needs `bandwidth` (Mbps) or both `bandwidth_up` and `bandwidth_down`"
            )
        return self


class NetworkConfig(Section):
    preset: Literal["lan", "multi-region", "custom"] | None = Field(
        "lan", description="a built-in topology; `custom` uses `workers` as a list of links"
    )
    num_workers: int | None = Field(None, ge=1, description="spread this many workers over the preset")
    workers: list[LinkConfig] | None = None
    topology: str | None = Field(
        None, description="YAML file `workers: [{name, bandwidth, latency, jitter, loss, speed, count}]`; "
        "read at load time into `workers` (so the resolved config needs no copy of the file)"
    )

    @model_validator(mode="after")
    def _topology_was_read(self) -> NetworkConfig:
        if self.topology is not None:
            raise ValueError("network.topology is read by load_config / validate_dict into network.workers; "
                             "build the config through them")
        return self


class PrivacyConfig(Section):
    enabled: bool = False
    noise_multiplier: float = Field(1.0, ge=0)
    clip_norm: float = Field(1.0, gt=0)
    delta: float = Field(1e-5, gt=0, lt=1)
    target_epsilon: float | None = Field(None, gt=0)


class EvalConfig(Section):
    every_steps: int = Field(50, ge=1)
    max_eval_tokens: int = Field(16384, ge=1)
    target_loss: float | None = Field(None, gt=0, description="stop when the validation loss reaches this")


class CheckpointConfig(Section):
    every_steps: int | None = Field(None, ge=1)
    every_seconds: float | None = Field(None, gt=0)
    keep: int = Field(3, ge=1)
    dir: str | None = Field(None, description="checkpoint directory; default <run dir>/checkpoints")


class RuntimeConfig(Section):
    kind: Literal["sim", "local", "grpc"] = "sim"
    host: str = "127.0.0.1"
    port: int = Field(50051, ge=0, le=65535)
    torch_threads: int = Field(1, ge=1)
    sim_threads: int | None = Field(
        None, ge=1, description="torch threads of the single simulator process; null = every core"
    )
    token_file: str | None = Field(None, description="server: hashed worker tokens, default <run dir>/tokens.json")
    tls_cert: str | None = Field(None, description="server: PEM certificate; with tls_key, the service speaks TLS only")
    tls_key: str | None = Field(None, description="server: PEM private key of tls_cert")
    tls_client_ca: str | None = Field(None, description="server: CA of client certificates (mutual TLS)")
    heartbeat_interval: float = Field(1.0, gt=0, description="seconds between a worker's heartbeats")
    heartbeat_misses: float = Field(5.0, ge=1, description="drop a worker silent for this many heartbeat intervals")
    drop_after_steps: float = Field(
        5.0, ge=1, description="drop a worker with no update for this many of its own (EMA) step intervals"
    )
    drop_floor_seconds: float = Field(10.0, gt=0, description="no worker is dropped sooner than this")
    startup_grace_seconds: float = Field(600.0, gt=0, description="time a new worker has for its first update")
    min_workers: int | None = Field(None, ge=1, description="start training when this many registered (default all)")
    push_rate_limit: float = Field(50.0, ge=0, description="pushes per second per worker (0 = unlimited)")
    chunk_bytes: int = Field(1 << 20, ge=1024, le=32 << 20, description="bytes per streamed message")


class RunConfig(Section):
    """A whole run. Build with `load_config(path_or_dict, overrides)`; never mutated by the runtime."""

    name: str = "run"
    seed: int = 0
    out_dir: str = "runs"
    max_server_steps: int = Field(200, ge=1)
    virtual_time_budget: float | None = Field(None, gt=0, description="seconds of simulated time")
    max_samples: int | None = Field(
        None, ge=1, description="stop once the workers have processed this many sequences (a sample budget)"
    )
    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    worker: WorkerConfig = Field(default_factory=WorkerConfig)
    compression: CompressionConfig = Field(default_factory=CompressionConfig)
    aggregation: AggregationConfig = Field(default_factory=AggregationConfig)
    byzantine: ByzantineConfig = Field(default_factory=ByzantineConfig)
    sync: SyncConfig = Field(default_factory=SyncConfig)
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig)
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)

    @model_validator(mode="before")
    @classmethod
    def _diloco_outer_optimizer(cls, data: Any) -> Any:
        """With local steps (DiLoCo) the server optimizer defaults to Nesterov, lr 0.7, momentum 0.9
        (Douillard et al. 2023), unless the config names an optimizer itself."""
        if not isinstance(data, dict):
            return data
        worker, opt = data.get("worker"), data.get("optimizer")
        try:
            local_steps = int((worker or {}).get("local_steps", 1))
        except (TypeError, ValueError, AttributeError):
            return data  # the field's own validation reports it
        if local_steps <= 1 or (opt is not None and not isinstance(opt, dict)) or (opt or {}).get("name"):
            return data
        data = {**data, "optimizer": {"name": "nesterov", "lr": 0.7, "momentum": 0.9, **(opt or {})}}
        return data

    @model_validator(mode="after")
    def _cross_checks(self) -> RunConfig:
        from dist_llm_train.config.cross_checks import check_run

        check_run(self)
        return self
