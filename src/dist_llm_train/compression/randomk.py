"""`randomk:R`: k = round(R*d) coordinates chosen uniformly at random, rescaled by d/k (unbiased).

Each message sends an 8-byte seed instead of its indices (k*log2(d/k) bits saved): the receiver
regenerates the same index set from the seed. That requires the index generator to be a pure
function of (seed, d, k) on torch's CPU generator, which it is: draw candidates with replacement
(randint), deduplicate (unique, sorted), top up until there are at least k, then keep a random
k-subset (randperm). Sampling with replacement and deduplicating gives a uniformly random subset
of its size, and a random k-subset of that is a uniformly random k-subset of [0, d). The same
torch version must run on both ends (the project pins it).

Decoded = (d/k) * x on the chosen coordinates, 0 elsewhere, so E[decoded] = x and
E||decoded - x||^2 = (d/k - 1) ||x||^2.
"""

from __future__ import annotations

import torch

from dist_llm_train.compression.compose import Selector
from dist_llm_train.compression.topk import k_for
from dist_llm_train.compression.wire import PayloadReader, check_finite, pack_u64


def random_indices(seed: int, d: int, k: int) -> torch.Tensor:
    """A uniformly random sorted k-subset of range(d), a pure function of (seed, d, k)."""
    if k >= d:
        return torch.arange(d, dtype=torch.int64)
    g = torch.Generator().manual_seed(seed)
    if 4 * k >= d:
        return torch.randperm(d, generator=g)[:k].sort().values
    pool = torch.unique(torch.randint(0, d, (k + k // 4 + 16,), generator=g))
    while pool.numel() < k:
        extra = torch.randint(0, d, (k - pool.numel() + k // 8 + 16,), generator=g)
        pool = torch.unique(torch.cat([pool, extra]))
    return pool[torch.randperm(pool.numel(), generator=g)[:k]].sort().values


class RandomKSelector(Selector):
    name = "randomk"

    def __init__(self, ratio: float, seed: int | None = None):
        if not (0 < ratio <= 1):
            raise ValueError(f"randomk ratio must be in (0, 1], got {ratio}")
        self.ratio = ratio
        self._gen = torch.Generator()
        if seed is None:
            self._gen.seed()
        else:
            self._gen.manual_seed(seed)

    @property
    def spec(self) -> str:
        return f"randomk:{self.ratio!r}"

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"generator": self._gen.get_state()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self._gen.set_state(state["generator"])

    def select(self, flat: torch.Tensor) -> tuple[bytes, torch.Tensor]:
        d = flat.numel()
        seed = int(torch.randint(0, 2**62, (), generator=self._gen))
        idx = random_indices(seed, d, k_for(self.ratio, d))
        return pack_u64(seed), flat[idx]

    def parse(self, side: memoryview, numel: int) -> tuple[torch.Tensor, int]:
        r = PayloadReader(side, "randomk seed")
        seed = r.u64()
        r.finish()
        k = k_for(self.ratio, numel)
        return (seed, k), k

    def expand(self, plan, values: torch.Tensor, numel: int, out: torch.Tensor) -> torch.Tensor:
        seed, k = plan
        scaled = values * (numel / k) if k else values
        check_finite(scaled, "randomk values after rescaling")
        out.zero_()
        out[random_indices(seed, numel, k)] = scaled
        return out
