"""Refuse a simulated run that cannot fit in memory before it starts, instead of being OOM-killed.

The simulator holds every worker in one process, and each keeps vectors the size of the model:
its flat gradient; with local steps its working parameters and its inner AdamW's two moments and
scratch; with error feedback its residual and two scratch vectors (allocated at its first push,
so a run that does not fit used to die mid-training, after minutes of work). The estimate counts
only those per-worker vectors, a lower bound (the model, the server's optimizer and the
aggregator's buffers come on top), so a run it refuses could not have finished.
"""

from __future__ import annotations

from dist_llm_train.config.schema import RunConfig
from dist_llm_train.controller.assembly import uses_error_feedback
from dist_llm_train.errors import ConfigError

FLOAT_BYTES = 4


def worker_vectors(cfg: RunConfig, byzantine: bool) -> int:
    """Model-sized fp32 vectors one simulated worker allocates (WorkerLogic, FlatLocalOptimizer,
    ErrorFeedback)."""
    n = 1  # the flat gradient (and the pseudo-gradient, written into it)
    if cfg.worker.local_steps > 1:
        n += 1 + (3 if cfg.worker.local_optimizer == "adamw" else 0)  # working copy; m, v, scratch
    if uses_error_feedback(cfg, byzantine):
        n += 3  # residual, corrected input, decoded message
    return n


def simulated_workers_bytes(cfg: RunConfig, numel: int, n: int, byzantine: list[int]) -> int:
    """A lower bound on the bytes the simulated workers hold."""
    byz = set(byzantine)
    return FLOAT_BYTES * numel * sum(worker_vectors(cfg, w in byz) for w in range(n))


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
    held = ["gradient"]
    if cfg.worker.local_steps > 1:
        held.append("local-step parameters and inner optimizer state")
    if uses_error_feedback(cfg):
        held.append("error-feedback residual and scratch")
    raise ConfigError(
        f"this simulated run needs at least {need / 2**30:.1f} GiB for its {n} workers alone ({per} vectors of "
        f"{numel:,} fp32 parameters per honest worker: {', '.join(held)}), and {free / 2**30:.1f} GiB is "
        "available: lower network.num_workers, use a smaller model, set worker.local_steps: 1 or "
        "compression.error_feedback: false, or run it with one process per worker (runtime.kind: local, or "
        "`dist-llm-train serve` and `worker` on several machines)")
