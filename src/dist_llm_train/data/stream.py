"""BatchStream: a worker's endless, reproducible sequence of training batches from its own shard.

Batch k is a pure function of (seed, k): epoch e visits the shard in the order of a permutation
seeded by (seed, e), and MLM masks of batch k are drawn from a generator seeded by (seed, k). So a
stream can be checkpointed as one integer (`batches_drawn`) and resumed exactly, and two runs with
the same seed see identical data.
"""

from __future__ import annotations

import numpy as np
import torch

from dist_llm_train.data.blocks import LMData
from dist_llm_train.data.masking import mask_tokens
from dist_llm_train.errors import ConfigError


class BatchStream:
    def __init__(
        self,
        data: LMData,
        shard_indices,
        batch_size: int,
        seed: int = 0,
        kind: str | None = None,
        mlm_probability: float = 0.15,
        start_batch: int = 0,
    ):
        self.data = data
        self.kind = kind or data.kind
        if self.kind != data.kind:
            raise ConfigError(f"BatchStream kind {self.kind!r} does not match the data's kind {data.kind!r}")
        self.shard = np.asarray(shard_indices, dtype=np.int64)
        if self.shard.size == 0:
            raise ConfigError("BatchStream needs a non-empty shard of block indices")
        if self.shard.min() < 0 or self.shard.max() >= data.num_train_blocks:
            raise ConfigError(f"shard indices must lie in [0, {data.num_train_blocks}) (the train blocks)")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, not {batch_size}")
        if self.kind == "mlm" and data.mask_id is None:
            raise ConfigError("masked-LM batches need a tokenizer with a [MASK] token")
        self.batch_size = batch_size
        self.seed = seed
        self.mlm_probability = mlm_probability
        self.batches_drawn = start_batch
        self._epoch_cache: tuple[int, np.ndarray] | None = None

    @property
    def epoch(self) -> float:
        """Passes over the shard so far (fractional)."""
        return self.batches_drawn * self.batch_size / self.shard.size

    def _order(self, epoch: int) -> np.ndarray:
        if self._epoch_cache is None or self._epoch_cache[0] != epoch:
            perm = np.random.default_rng([self.seed, 0xB10C, epoch]).permutation(self.shard.size)
            self._epoch_cache = (epoch, self.shard[perm])
        return self._epoch_cache[1]

    def indices_for(self, batch_number: int) -> np.ndarray:
        """Block indices of batch `batch_number` (crossing into the next epoch's order when needed)."""
        n = self.shard.size
        start = batch_number * self.batch_size
        picks = []
        for pos in range(start, start + self.batch_size):
            epoch, offset = divmod(pos, n)
            picks.append(self._order(epoch)[offset])
        return np.asarray(picks, dtype=np.int64)

    def next_batch(self) -> dict[str, torch.Tensor]:
        """dict(input_ids, labels) as int64 tensors [batch_size, seq_len] (MLM also gets attention_mask)."""
        k = self.batches_drawn
        self.batches_drawn += 1
        blocks = np.asarray(self.data.train_blocks[self.indices_for(k)], dtype=np.int64)
        if self.kind == "causal":
            ids = torch.from_numpy(blocks)
            return {"input_ids": ids, "labels": ids.clone()}
        rng = np.random.default_rng([self.seed, 0x3A5C, k])
        inputs, labels = mask_tokens(
            blocks, rng, self.data.mask_id, self.data.vocab_size, self.data.special_ids, self.mlm_probability
        )
        ids = torch.from_numpy(inputs)
        return {
            "input_ids": ids,
            "labels": torch.from_numpy(labels),
            "attention_mask": torch.ones_like(ids),
        }

    def state_dict(self) -> dict:
        return {"batches_drawn": self.batches_drawn, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        self.batches_drawn = int(state["batches_drawn"])
