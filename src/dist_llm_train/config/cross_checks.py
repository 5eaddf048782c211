"""Checks that span sections (a rule's precondition against the buffer size, Byzantine ids, ...).

They run at load time so that a run that cannot give its guarantees, or that would fail once the
model is built, stops before any work. The aggregator and the attack are built here through their
registries exactly as the run builds them, so a bad parameter is reported against its key instead
of surfacing as a traceback after minutes of setup. Each problem is attached to the dotted key the
user has to change (`aggregation.f`, not the top level).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dist_llm_train.config.registry_check import _registry, model_max_positions

if TYPE_CHECKING:
    from dist_llm_train.config.schema import RunConfig


class CrossCheckError(ValueError):
    """One or more problems, each attached to the dotted key to fix (the loader prints one line each)."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{k}: {m}" for k, m in problems))


def num_workers(cfg: RunConfig) -> int:
    """How many workers the network section describes."""
    from dist_llm_train.network import build_topology

    return len(build_topology(cfg.network))


def buffer_size(cfg: RunConfig) -> int:
    if cfg.sync.buffer_size is not None:
        return cfg.sync.buffer_size
    return num_workers(cfg) if cfg.sync.mode == "sync" else 1


def _reason(exc: Exception) -> str:
    return str(exc).strip() or type(exc).__name__


def check_run(cfg: RunConfig) -> None:
    """Raise CrossCheckError listing every cross-section problem of `cfg`."""
    problems: list[tuple[str, str]] = []
    if cfg.network.preset == "custom" and not cfg.network.workers:
        raise CrossCheckError([("network.workers", "network.preset is 'custom' but network.workers is empty: "
                                                   "list the workers' links, or give network.topology: FILE")])
    try:
        n = num_workers(cfg)
    except ValueError as exc:  # e.g. an unknown hardware profile in a link
        raise CrossCheckError([("network.workers", _reason(exc).removeprefix("network.workers: "))]) from None
    k = buffer_size(cfg)
    if k > n:
        problems.append(("sync.buffer_size", f"{k} is larger than the number of workers ({n}); use at most {n}"))
    byz = cfg.byzantine.workers
    if byz is not None:
        bad = [w for w in byz if not 0 <= w < n]
        if bad:
            problems.append(("byzantine.workers", f"ids {bad} are outside 0..{n - 1} ({n} workers)"))
    elif cfg.byzantine.count > n:
        problems.append(("byzantine.count", f"{cfg.byzantine.count} exceeds the number of workers ({n})"))
    w = cfg.worker
    if w.local_steps == 1 and (w.local_schedule != "constant" or w.local_warmup_steps):
        field = "worker.local_schedule" if w.local_schedule != "constant" else "worker.local_warmup_steps"
        problems.append((field, "schedules the inner optimizer of local steps, but worker.local_steps is 1 (each "
                                "push is one gradient, stepped by the server's optimizer.schedule): set "
                                "worker.local_steps > 1 or remove it"))
    if w.local_steps == 1 and w.local_second_moment != "own":
        problems.append(("worker.local_second_moment", "shapes the inner optimizer of local steps, but "
                         "worker.local_steps is 1: set worker.local_steps > 1 or remove it"))
    problems += privacy_problems(cfg)
    problems += aggregator_problems(cfg, k)
    problems += attack_problems(cfg)
    problems += seq_len_problems(cfg)
    if problems:
        raise CrossCheckError(problems)


def aggregator_problems(cfg: RunConfig, k: int) -> list[tuple[str, str]]:
    """Build the rule (with params and f), each pre-aggregator, then the pipeline's precondition for k inputs."""
    agg_mod = _registry("dist_llm_train.aggregation")
    from dist_llm_train.aggregation.pre import parse_pre

    a = cfg.aggregation
    problems = []
    try:
        agg_mod.make_aggregator(a.rule, f=a.f, pre=(), **a.params)
    except (ValueError, TypeError) as exc:
        key = "aggregation.params" if a.params else "aggregation.f"
        given = f" (got {a.params!r})" if a.params else ""
        problems.append((key, f"{_reason(exc)}{given}"))
    for i, spec in enumerate(a.pre):
        try:
            parse_pre(spec)
        except (ValueError, TypeError) as exc:
            problems.append((f"aggregation.pre.{i}", f"{_reason(exc)} (got {spec!r})"))
    if problems:
        return problems
    try:
        agg_mod.make_aggregator(a.rule, f=a.f, pre=list(a.pre), **a.params).check(
            k, context=" updates per server step, sync.buffer_size")
    except (ValueError, TypeError) as exc:
        pre = f", aggregation.pre = {list(a.pre)}" if a.pre else ""
        problems.append(("aggregation.f", f"{_reason(exc)} (aggregation.rule = {a.rule!r}, f = {a.f}{pre})"))
    return problems


def attack_problems(cfg: RunConfig) -> list[tuple[str, str]]:
    """Build the attack with its params (even with no Byzantine worker: a config must mean what it says)."""
    b = cfg.byzantine
    try:
        _registry("dist_llm_train.attacks").make_attack(b.attack, **b.params)
    except (ValueError, TypeError) as exc:
        if b.params:
            return [("byzantine.params", f"{_reason(exc)} (got {b.params!r} for attack {b.attack!r})")]
        return [("byzantine.attack", f"{_reason(exc)} (got {b.attack!r})")]
    return []


def privacy_problems(cfg: RunConfig) -> list[tuple[str, str]]:
    """Differential privacy has no mechanism behind it yet: a config that asks for it (or sets any of
    its knobs) is refused, so that nobody trains believing their data is protected when it is not."""
    from dist_llm_train.config.schema import PrivacyConfig

    p, default = cfg.privacy, PrivacyConfig()
    asked = [k for k in type(p).model_fields if getattr(p, k) != getattr(default, k)]
    if not asked:
        return []
    key = "privacy.enabled" if p.enabled else f"privacy.{asked[0]}"
    return [(key, "differential privacy (clipping + noise with an accountant) is not implemented in this "
                  "version: a run with it would train with no privacy at all. Remove the privacy section "
                  "(or `enable_dp`) to train without it")]


def seq_len_problems(cfg: RunConfig) -> list[tuple[str, str]]:
    limit = model_max_positions(cfg.model.name, cfg.model.path)
    if limit is not None and cfg.data.seq_len > limit:
        return [("data.seq_len", f"{cfg.data.seq_len} is longer than the context of model {cfg.model.name!r} "
                                 f"({limit} positions); use data.seq_len <= {limit} or a model with a longer context")]
    return []
