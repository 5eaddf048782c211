"""Model-sized scratch vectors that several owners may share.

A worker's round needs vectors as large as the model only while it runs: the flat gradient, the
local-step working copy, error feedback's corrected input and decoded message. A real worker
process owns one set. The simulator runs its workers one at a time in one process, so they can
borrow one shared set: with 8 workers of a 135M-parameter model that is about 2 GiB instead of
17 GiB, and the difference between a fine-tuning run that fits on a 24 GiB machine and one that is
killed. What must outlive a round (error-feedback residuals, local optimizer moments) is never
kept here.
"""

from __future__ import annotations

import threading

import torch


class ScratchVectors:
    """Named fp32 vectors, allocated once per (name, size) and handed out again on every call.

    A borrower must be done with a vector before another borrower of the same pool asks for the
    same name: true of one process's worker, and of the simulator's workers, which run in turn."""

    def __init__(self) -> None:
        self._vectors: dict[str, torch.Tensor] = {}

    def get(self, name: str, numel: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        v = self._vectors.get(name)
        if v is None or v.numel() != numel or v.dtype != dtype:
            v = self._vectors[name] = torch.empty(numel, dtype=dtype)
        return v

    def names(self) -> list[str]:
        return sorted(self._vectors)

    def nbytes(self) -> int:
        return sum(v.numel() * v.element_size() for v in self._vectors.values())


#: one pool for the selection scratch of every codec in this process (see compression/topk.py),
#: used under PROCESS_SCRATCH_LOCK: the codecs of the simulator's workers, and the server's
#: downlink codec, never need theirs at the same time
PROCESS_SCRATCH = ScratchVectors()
PROCESS_SCRATCH_LOCK = threading.Lock()
