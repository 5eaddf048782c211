"""Label flipping: a data-poisoning worker trains on corrupted targets and sends the honest-looking
update that results (Biggio et al. 2012, Fang et al. 2020 for the federated setting).

For next-token prediction the targets are token ids: `reverse` maps label t to V - 1 - t (a fixed
permutation of the vocabulary), `shift=k` maps t to (t + k) mod V (`shift` alone: k = 1).
Positions labelled -100 (ignored by the loss) stay ignored. A batch without `labels` uses
`input_ids` as labels, the causal-LM convention. The update itself passes through `apply` unchanged.
"""

from __future__ import annotations

import re

import torch

from dist_llm_train.attacks.base import Attack, AttackContext

IGNORE_INDEX = -100


class LabelFlip(Attack):
    name = "label_flip"
    poisons_data = True

    def __init__(self, mode: str = "reverse"):
        mode = str(mode)
        match = re.fullmatch(r"reverse|shift(?:=(-?\d+))?", mode)
        if match is None:
            raise ValueError(f"label_flip: mode must be 'reverse', 'shift' or 'shift=K', got {mode!r}")
        self.shift = None if mode == "reverse" else int(match.group(1) or 1)
        self.mode = mode

    def flip(self, labels: torch.Tensor, vocab_size: int) -> torch.Tensor:
        keep = labels == IGNORE_INDEX
        bad = (labels < 0) & ~keep | (labels >= vocab_size)
        if bool(bad.any()):
            raise ValueError(f"label_flip: labels must be in [0, {vocab_size}) or {IGNORE_INDEX}, "
                             f"got {labels[bad][:5].tolist()}")
        flipped = vocab_size - 1 - labels if self.shift is None else (labels + self.shift) % vocab_size
        return torch.where(keep, labels, flipped)

    def apply(self, honest_update: torch.Tensor, ctx: AttackContext) -> torch.Tensor:
        return honest_update

    def corrupt_batch(self, batch: dict[str, torch.Tensor], ctx: AttackContext) -> dict[str, torch.Tensor]:
        if ctx.vocab_size is None or ctx.vocab_size < 2:
            raise ValueError("label_flip needs the vocabulary size: AttackContext(vocab_size=...)")
        if "labels" not in batch and "input_ids" not in batch:
            raise ValueError(f"label_flip: the batch needs 'labels' or 'input_ids', got keys {sorted(batch)}")
        labels = batch["labels"] if "labels" in batch else batch["input_ids"]
        return dict(batch, labels=self.flip(labels, ctx.vocab_size))
