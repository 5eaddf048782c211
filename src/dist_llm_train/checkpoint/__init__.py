"""Checkpoints of a training run: atomic, verified, kept in a rolling window; usable by every runtime."""

from dist_llm_train.checkpoint.manager import CheckpointManager, Snapshot
from dist_llm_train.checkpoint.rng import capture_rng, restore_rng

__all__ = ["CheckpointManager", "Snapshot", "capture_rng", "restore_rng"]
