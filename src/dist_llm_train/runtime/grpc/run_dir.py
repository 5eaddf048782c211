"""Refuse to start a new run on top of an earlier one.

A run directory holds the record of a run (events.jsonl) and its checkpoints. Starting a fresh
server there used to overwrite the event log and, worse, have the new run's checkpoints pruned as
soon as they were written (the old run's higher versions sort first, and only the newest K are
kept), so a restart without `--resume` destroyed both runs. A fresh run must therefore go to an
empty directory; continuing the old one is what `--resume` is for.
"""

from __future__ import annotations

from pathlib import Path

from dist_llm_train.errors import ConfigError


def earlier_run(run_dir: Path, checkpoint_dir: Path) -> list[str]:
    """What in these directories belongs to an earlier run (empty: nothing)."""
    found = []
    # an empty log is what a start that failed before its first event leaves: nothing to lose there
    logs = sorted(p.name for p in run_dir.glob("events*.jsonl") if p.stat().st_size) if run_dir.is_dir() else []
    if logs:
        found.append(", ".join(logs))
    steps = sorted(p.name for p in checkpoint_dir.glob("step-*")) if checkpoint_dir.is_dir() else []
    if steps:
        found.append(f"{len(steps)} checkpoint(s) up to {steps[-1]}")
    return found


def check_fresh(run_dir: str | Path, checkpoint_dir: str | Path, *, resume: bool, fix: str) -> None:
    """ConfigError when a run that does not resume would start over an earlier one; `fix` says what to
    do instead (e.g. "continue it with --resume, or pass another --out")."""
    if resume:
        return
    found = earlier_run(Path(run_dir), Path(checkpoint_dir))
    if found:
        raise ConfigError(f"run directory {str(run_dir)!r} holds an earlier run ({'; '.join(found)}); "
                          f"it is never overwritten: {fix}")
