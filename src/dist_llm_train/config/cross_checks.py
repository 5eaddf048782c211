"""Checks that span sections (a rule's precondition against the buffer size, Byzantine ids, ...).

They run at load time so that a run that cannot give its guarantees stops before any training.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dist_llm_train.config.schema import RunConfig


def num_workers(cfg: RunConfig) -> int:
    """How many workers the network section describes."""
    from dist_llm_train.network import build_topology

    return len(build_topology(cfg.network))


def buffer_size(cfg: RunConfig) -> int:
    if cfg.sync.buffer_size is not None:
        return cfg.sync.buffer_size
    return num_workers(cfg) if cfg.sync.mode == "sync" else 1


def check_run(cfg: RunConfig) -> None:
    if cfg.network.preset == "custom" and not cfg.network.workers:
        raise ValueError("network.preset is 'custom' but network.workers is empty: list the workers' links")
    n = num_workers(cfg)
    k = buffer_size(cfg)
    if k > n:
        raise ValueError(f"sync.buffer_size = {k} is larger than the number of workers ({n}); use at most {n}")
    byz = cfg.byzantine.workers
    if byz is not None:
        bad = [w for w in byz if not 0 <= w < n]
        if bad:
            raise ValueError(f"byzantine.workers has ids {bad} outside 0..{n - 1}")
    elif cfg.byzantine.count > n:
        raise ValueError(f"byzantine.count = {cfg.byzantine.count} exceeds the number of workers ({n})")
    if cfg.aggregation.f > 0 or cfg.aggregation.rule != "mean":
        from dist_llm_train.config.registry_check import _registry

        mod = _registry("dist_llm_train.aggregation")
        if mod is not None and hasattr(mod, "check_precondition"):
            try:
                mod.check_precondition(cfg.aggregation.rule, n=k, f=cfg.aggregation.f, pre=cfg.aggregation.pre)
            except ValueError as exc:
                raise ValueError(
                    f"aggregation.rule = {cfg.aggregation.rule!r} with aggregation.f = {cfg.aggregation.f} and "
                    f"{k} updates per server step (sync.buffer_size): {exc}"
                ) from None
