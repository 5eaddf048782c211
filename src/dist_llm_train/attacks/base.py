"""The attack contract: a Byzantine worker turns its honest update into a malicious one.

Omniscient attacks (ALIE, IPM) also see the honest updates of the same round, as the strongest
adversary in the literature does; `AttackContext.honest` carries them ([m, d], may be empty).
Data-poisoning attacks act earlier, on the worker's batches, through `corrupt_batch`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch


@dataclass
class AttackContext:
    honest: torch.Tensor | None = None  # [m, d] honest updates of this round, for omniscient attacks
    n: int = 0  # updates aggregated per step
    f: int = 0  # Byzantine inputs among them
    generator: torch.Generator | None = None
    vocab_size: int | None = None  # for data poisoning


class Attack(ABC):
    name: str = ""
    omniscient: bool = False  # needs the honest updates of the round
    poisons_data: bool = False  # acts on the batch (label flip) rather than on the update

    @abstractmethod
    def apply(self, honest_update: torch.Tensor, ctx: AttackContext) -> torch.Tensor: ...

    def corrupt_batch(self, batch: dict[str, torch.Tensor], ctx: AttackContext) -> dict[str, torch.Tensor]:
        return batch
