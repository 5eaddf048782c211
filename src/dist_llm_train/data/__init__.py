"""data layer: real corpora (offline), cached tokenization, block packing, sharding and batch streams.

Public API:
  load_corpus(name) -> Corpus; check_corpus(name) (no loading); available_corpora()
  prepare_lm_data(corpus, tokenizer, seq_len, kind, seed=0, max_train_tokens=None, max_positions=None) -> LMData
  shard_blocks(data_or_doc_ids, n_workers, mode="iid"|"non_iid"|"dirichlet", alpha=0.5, seed=0) -> list[np.ndarray]
  BatchStream(data, shard_indices, batch_size, seed=0, mlm_probability=0.15).next_batch() -> dict of tensors
  mask_tokens(ids, rng, mask_id, vocab_size, special_ids, probability) -> (inputs, labels)
"""

from dist_llm_train.data.blocks import LMData, prepare_lm_data
from dist_llm_train.data.corpus import Corpus
from dist_llm_train.data.masking import IGNORE_INDEX, mask_tokens
from dist_llm_train.data.registry import available_corpora, check_corpus, load_corpus
from dist_llm_train.data.sharding import shard_blocks
from dist_llm_train.data.stream import BatchStream

__all__ = [
    "IGNORE_INDEX",
    "BatchStream",
    "Corpus",
    "LMData",
    "available_corpora",
    "check_corpus",
    "load_corpus",
    "mask_tokens",
    "prepare_lm_data",
    "shard_blocks",
]
