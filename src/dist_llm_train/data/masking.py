"""BERT's dynamic masking: choose ~15% of positions; of those 80% [MASK], 10% a random token, 10% kept.

Special tokens ([CLS], [SEP], [PAD], ...) are never chosen. Labels are the original ids at chosen
positions and -100 elsewhere, which transformers' MLM loss ignores. The random generator is passed
in, so masking is a deterministic function of (ids, seed): workers can re-draw a fresh mask per
batch (dynamic masking, as in RoBERTa) while the evaluator keeps one fixed mask.
"""

from __future__ import annotations

import numpy as np

IGNORE_INDEX = -100


def mask_tokens(
    ids: np.ndarray,
    rng: np.random.Generator,
    mask_id: int,
    vocab_size: int,
    special_ids: np.ndarray,
    probability: float = 0.15,
) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, labels) as int64 arrays of ids' shape."""
    if not 0 < probability < 1:
        raise ValueError(f"mlm probability must be in (0, 1), not {probability}")
    ids = np.asarray(ids, dtype=np.int64)
    maskable = ~np.isin(ids, special_ids)
    chosen = (rng.random(ids.shape) < probability) & maskable
    labels = np.where(chosen, ids, IGNORE_INDEX)
    inputs = ids.copy()
    action = rng.random(ids.shape)
    to_mask = chosen & (action < 0.8)
    to_random = chosen & (action >= 0.8) & (action < 0.9)
    inputs[to_mask] = mask_id
    inputs[to_random] = _random_ordinary_tokens(rng, int(to_random.sum()), vocab_size, special_ids)
    return inputs, labels


def _random_ordinary_tokens(rng: np.random.Generator, n: int, vocab_size: int, special_ids: np.ndarray) -> np.ndarray:
    """n uniform ids from the vocabulary without the special ones (a random [MASK] would bias the 10%)."""
    out = rng.integers(0, vocab_size, size=n)
    bad = np.isin(out, special_ids)
    while bad.any():
        out[bad] = rng.integers(0, vocab_size, size=int(bad.sum()))
        bad = np.isin(out, special_ids)
    return out
