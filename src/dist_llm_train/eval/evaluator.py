"""Held-out evaluation: token-weighted perplexity (causal) and masked-token accuracy (MLM).

The evaluator fixes its blocks (and, for MLM, its masks) once at construction, so every call
measures the same tokens and curves over training are comparable point to point. `max_eval_tokens`
caps the cost by taking evenly spaced blocks across the whole validation split (rather than its
first articles), keeping the estimate representative while fast enough to run every few hundred
steps on a CPU. The loss is the sum of per-token cross-entropies divided by the number of
predicted tokens over all blocks, not a mean of batch means.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from dist_llm_train.data.blocks import LMData
from dist_llm_train.data.masking import IGNORE_INDEX, mask_tokens
from dist_llm_train.errors import ConfigError


def select_blocks(blocks: np.ndarray, seq_len: int, max_eval_tokens: int | None) -> np.ndarray:
    """Evenly spaced block indices whose tokens total at most max_eval_tokens (at least one block)."""
    n = blocks.shape[0]
    if max_eval_tokens is None or max_eval_tokens >= n * seq_len:
        return np.arange(n)
    k = max(1, max_eval_tokens // seq_len)
    return np.unique(np.linspace(0, n - 1, k).round().astype(np.int64))


class Evaluator:
    """evaluate(module) -> dict(loss, perplexity, mlm_accuracy (MLM) or None, tokens)."""

    def __init__(
        self,
        kind: str,
        eval_blocks: np.ndarray,
        max_eval_tokens: int | None = 32768,
        batch_size: int = 8,
        mask_seed: int = 1234,
        mask_id: int | None = None,
        vocab_size: int | None = None,
        special_ids=(),
        mlm_probability: float = 0.15,
    ):
        if kind not in ("causal", "mlm"):
            raise ConfigError(f"Evaluator kind must be causal or mlm, not {kind!r}")
        if batch_size < 1:
            raise ConfigError(f"eval batch_size must be >= 1, not {batch_size}")
        blocks = np.asarray(eval_blocks)
        if blocks.ndim != 2 or blocks.shape[0] == 0:
            raise ConfigError(f"eval_blocks must be a non-empty [n, seq_len] array, got shape {blocks.shape}")
        self.kind = kind
        self.batch_size = batch_size
        chosen = select_blocks(blocks, blocks.shape[1], max_eval_tokens)
        self.inputs = torch.from_numpy(np.asarray(blocks[chosen], dtype=np.int64))
        if kind == "causal":
            self.labels = self.inputs.clone()
            self.tokens = int(self.inputs.shape[0] * (self.inputs.shape[1] - 1))
        else:
            if mask_id is None or vocab_size is None:
                raise ConfigError("an MLM Evaluator needs mask_id and vocab_size (use Evaluator.from_data)")
            rng = np.random.default_rng([mask_seed, 0xE7A1])
            inputs, labels = mask_tokens(
                self.inputs.numpy(), rng, mask_id, vocab_size, np.asarray(special_ids, dtype=np.int64), mlm_probability
            )
            self.inputs, self.labels = torch.from_numpy(inputs), torch.from_numpy(labels)
            self.tokens = int((self.labels != IGNORE_INDEX).sum())
        self.num_blocks = int(self.inputs.shape[0])

    @classmethod
    def from_data(
        cls,
        data: LMData,
        split: str = "validation",
        max_eval_tokens: int | None = 32768,
        batch_size: int = 8,
        mask_seed: int = 1234,
        mlm_probability: float = 0.15,
    ) -> Evaluator:
        return cls(
            data.kind,
            data.blocks(split),
            max_eval_tokens=max_eval_tokens,
            batch_size=batch_size,
            mask_seed=mask_seed,
            mask_id=data.mask_id,
            vocab_size=data.vocab_size,
            special_ids=data.special_ids,
            mlm_probability=mlm_probability,
        )

    @torch.inference_mode()
    def evaluate(self, module: torch.nn.Module) -> dict:
        was_training = module.training
        module.eval()
        total_loss = 0.0
        correct = 0
        try:
            for i in range(0, self.num_blocks, self.batch_size):
                x = self.inputs[i : i + self.batch_size]
                y = self.labels[i : i + self.batch_size]
                logits = module(input_ids=x).logits
                if self.kind == "causal":
                    logits, y = logits[:, :-1], y[:, 1:]
                flat_logits = logits.reshape(-1, logits.shape[-1]).float()
                flat_y = y.reshape(-1)
                total_loss += float(F.cross_entropy(flat_logits, flat_y, ignore_index=IGNORE_INDEX, reduction="sum"))
                if self.kind == "mlm":
                    sel = flat_y != IGNORE_INDEX
                    correct += int((flat_logits[sel].argmax(-1) == flat_y[sel]).sum())
        finally:
            module.train(was_training)
        loss = total_loss / max(1, self.tokens)
        return {
            "loss": loss,
            "perplexity": math.exp(min(loss, 700.0)),
            "mlm_accuracy": correct / max(1, self.tokens) if self.kind == "mlm" else None,
            "tokens": self.tokens,
        }
