"""Random initialisation that depends only on the seed and leaves the caller's RNG untouched."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch

T = TypeVar("T")


def seeded(seed: int, make: Callable[[], T]) -> T:
    """Run `make` (a module constructor) under torch.manual_seed(seed) without disturbing global RNG state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make()
