"""Refuse a simulated run that cannot fit in memory before it starts, instead of being OOM-killed.

The simulator holds every worker in one process. Each keeps vectors the size of the model that
outlive a round: with local steps its inner AdamW's two moments; with error feedback
its residual (allocated at its first push, so a run that does not fit used to die mid-training,
after minutes of work). The round-long vectors (flat gradient, local working copy, the inner
XX
the simulator runs them in turn. The estimate counts only those vectors, a lower bound (the model,
the server's optimizer and the aggregator's buffers come on top), so a run it refuses could not
have finished.
"""

from __future__ import annotations

from dist_llm_train.config.schema import RunConfig
from dist_llm_train.controller.assembly import uses_error_feedback
from dist_llm_train.errors import ConfigError

FLOAT_BYTES = 4


def worker_vectors(cfg: RunConfig, byzantine: bool) -> int:
    """Model-sized fp32 vectors one simulated worker keeps for itself (FlatLocalOptimizer,
    ErrorFeedback's residual)."""
    n = 0
    if cfg.worker.local_steps > 1 and cfg.worker.local_optimizer == "adamw":
        n += 2  # m, v
    if uses_error_feedback(cfg, byzantine):
        n += 1  # residual
    return n


def shared_vectors(cfg: RunConfig) -> int:
    """Model-sized fp32 vectors the simulated workers share (scratch.py): gradient, local working
    copy, the inner AdamW's denominator, error feedback's corrected input and decoded message."""
    local = cfg.worker.local_steps > 1
    return 1 + local + (local and cfg.worker.local_optimizer == "adamw") + 2 * uses_error_feedback(cfg)


def simulated_workers_bytes(cfg: RunConfig, numel: int, n: int, byzantine: list[int]) -> int:
    """A lower bound on the bytes the simulated workers hold."""
    byz = set(byzantine)
    own = sum(worker_vectors(cfg, w in byz) for w in range(n))
    return FLOAT_BYTES * numel * (own + shared_vectors(cfg))


def available_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (Linux), or None where it cannot be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_sim_memory(cfg: RunConfig, numel: int, n: int, byzantine: list[int],
                     available: int | None = None) -> None:
    """Raise a ConfigError naming the sizes and the ways out when the simulated workers alone need
    more memory than is available (`available`: bytes; default: this machine's MemAvailable)."""
    free = available if available is not None else available_bytes()
    if free is None:
        return
    need = simulated_workers_bytes(cfg, numel, n, byzantine)
    if need <= free:
        return
    per = worker_vectors(cfg, False)
    held = []
    if cfg.worker.local_steps > 1:
        held.append("inner optimizer state")
    if uses_error_feedback(cfg):
        held.append("error-feedback residual")
    raise ConfigError(
        f"this simulated run needs at least {need / 2**30:.1f} GiB for its {n} workers alone ({per} vectors of "
        f"{numel:,} fp32 parameters per honest worker: {', '.join(held) or 'none'}; {shared_vectors(cfg)} shared), "
        f"and {free / 2**30:.1f} GiB is "
        "available: lower network.num_workers, use a smaller model, set worker.local_steps: 1 or "
        "compression.error_feedback: false, or run it with one process per worker (runtime.kind: local, or "
        "`dist-llm-train serve` and `worker` on several machines)")
