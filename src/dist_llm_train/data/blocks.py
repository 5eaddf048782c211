"""Packing a corpus into fixed-length token blocks: `prepare_lm_data` -> LMData.

Documents are concatenated (causal: each followed by the tokenizer's end-of-text id; MLM: by [SEP])
and cut into blocks of `seq_len` tokens with no padding, the standard way LMs are pretrained, so
every position carries a loss. MLM blocks are [CLS] + seq_len-2 tokens + [SEP]. Each block records
the document it starts in, which is what non-IID sharding groups by. The last partial block of a
split is dropped. Causal train blocks are a zero-copy view of the memory-mapped token cache.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dist_llm_train.data.corpus import Corpus
from dist_llm_train.data.token_cache import tokenized_stream
from dist_llm_train.errors import ConfigError, PreconditionError
from dist_llm_train.models.tokenizer import TextTokenizer

KINDS = ("causal", "mlm")


@dataclass
class LMData:
    """Blocks [n, seq_len] of token ids per split, with the document id each block starts in."""

    kind: str
    seq_len: int
    vocab_size: int
    pad_id: int
    mask_id: int | None
    special_ids: np.ndarray  # ids masking must never touch
    train_blocks: np.ndarray
    train_doc_ids: np.ndarray
    eval_blocks: np.ndarray  # the validation split
    eval_doc_ids: np.ndarray
    test_blocks: np.ndarray
    test_doc_ids: np.ndarray
    corpus_name: str = ""
    tokenizer_name: str = ""

    @property
    def num_train_blocks(self) -> int:
        return int(self.train_blocks.shape[0])

    @property
    def num_train_tokens(self) -> int:
        return int(self.train_blocks.size)

    def blocks(self, split: str) -> np.ndarray:
        return {"train": self.train_blocks, "validation": self.eval_blocks, "test": self.test_blocks}[split]

    def __repr__(self) -> str:
        return (
            f"LMData({self.kind}, {self.corpus_name}/{self.tokenizer_name}, seq_len={self.seq_len}, "
            f"train={self.train_blocks.shape[0]} blocks, eval={self.eval_blocks.shape[0]}, "
            f"test={self.test_blocks.shape[0]})"
        )


def _causal_blocks(tokens: np.ndarray, starts: np.ndarray, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    n = tokens.size // seq_len
    blocks = tokens[: n * seq_len].reshape(n, seq_len)
    doc_ids = np.searchsorted(starts, np.arange(n, dtype=np.int64) * seq_len, side="right") - 1
    return blocks, doc_ids.astype(np.int32)


def _mlm_blocks(
    tokens: np.ndarray, starts: np.ndarray, seq_len: int, cls_id: int, sep_id: int
) -> tuple[np.ndarray, np.ndarray]:
    body = seq_len - 2
    n = tokens.size // body
    blocks = np.empty((n, seq_len), dtype=tokens.dtype)
    blocks[:, 0] = cls_id
    blocks[:, 1:-1] = tokens[: n * body].reshape(n, body)
    blocks[:, -1] = sep_id
    doc_ids = np.searchsorted(starts, np.arange(n, dtype=np.int64) * body, side="right") - 1
    return blocks, doc_ids.astype(np.int32)


def prepare_lm_data(
    corpus: Corpus,
    tokenizer: TextTokenizer,
    seq_len: int,
    kind: str,
    seed: int = 0,
    max_train_tokens: int | None = None,
    max_positions: int | None = None,
    cache: bool = True,
) -> LMData:
    """Tokenize (cached) and pack every split of `corpus` into blocks for a `kind` ("causal"/"mlm") model.

    max_train_tokens keeps a seeded random subset of train blocks (in corpus order);
    max_positions (the model's context length) is checked against seq_len.
    """
    if kind not in KINDS:
        raise ConfigError(f"kind must be one of {KINDS}, not {kind!r}")
    if seq_len < 8:
        raise ConfigError(f"seq_len {seq_len} is too short; use at least 8")
    if max_positions is not None and seq_len > max_positions:
        raise ConfigError(f"data.seq_len {seq_len} exceeds the model's context length {max_positions}; lower seq_len")
    if kind == "mlm":
        missing = [n for n in ("mask_id", "cls_id", "sep_id") if getattr(tokenizer, n) is None]
        if missing:
            raise ConfigError(f"tokenizer {tokenizer.name!r} has no {missing} token(s), so it cannot feed a masked LM")
        separator = tokenizer.sep_id
    else:
        if tokenizer.eos_id is None:
            raise ConfigError(f"tokenizer {tokenizer.name!r} has no end-of-text token to separate documents")
        separator = tokenizer.eos_id
    out = {}
    for split in ("train", "validation", "test"):
        docs = corpus.split(split)
        tokens, starts = tokenized_stream(docs, tokenizer, separator, cache=cache)
        if kind == "causal":
            blocks, doc_ids = _causal_blocks(tokens, starts, seq_len)
        else:
            blocks, doc_ids = _mlm_blocks(tokens, starts, seq_len, tokenizer.cls_id, tokenizer.sep_id)
        if blocks.shape[0] == 0:
            raise PreconditionError(
                f"the {split} split of corpus {corpus.name!r} has {tokens.size} tokens, fewer than one block of "
                f"{seq_len}; use a smaller data.seq_len or a larger corpus"
            )
        out[split] = (blocks, doc_ids)
    train_blocks, train_docs = out["train"]
    if max_train_tokens is not None and max_train_tokens < train_blocks.size:
        keep_n = max(1, max_train_tokens // seq_len)
        keep = np.sort(np.random.default_rng([seed, 0x7A17]).choice(train_blocks.shape[0], keep_n, replace=False))
        train_blocks, train_docs = train_blocks[keep], train_docs[keep]
    return LMData(
        kind=kind,
        seq_len=seq_len,
        vocab_size=tokenizer.vocab_size,
        pad_id=tokenizer.pad_id,
        mask_id=tokenizer.mask_id,
        special_ids=np.array(sorted(tokenizer.special_ids), dtype=np.int64),
        train_blocks=train_blocks,
        train_doc_ids=train_docs,
        eval_blocks=out["validation"][0],
        eval_doc_ids=out["validation"][1],
        test_blocks=out["test"][0],
        test_doc_ids=out["test"][1],
        corpus_name=corpus.name,
        tokenizer_name=tokenizer.name,
    )
