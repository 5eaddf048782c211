"""BuiltModel: what every other layer receives from `build_model`."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from dist_llm_train.layout import ParamLayout
from dist_llm_train.models.tokenizer import TextTokenizer


@dataclass
class BuiltModel:
    """A ready module with its tokenizer and flat-vector layout.

    `init` says what actually happened ("pretrained" or "random"), and `source` where the weights
    came from, so a run's report can state it even when the config asked for "auto".
    """

    name: str
    kind: str  # "causal" (labels = input ids, shifted inside the model) or "mlm"
    module: torch.nn.Module
    tokenizer: TextTokenizer
    layout: ParamLayout
    init: str
    source: str
    max_seq_len: int
    notes: list[str] = field(default_factory=list)

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.vocab_size

    @property
    def num_params(self) -> int:
        return self.layout.numel

    def summary(self) -> str:
        return (
            f"{self.name}: {self.kind} LM, {self.num_params / 1e6:.1f}M parameters, vocab {self.vocab_size}, "
            f"{self.init} ({self.source})"
        )
