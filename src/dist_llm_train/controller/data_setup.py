"""Data for a run: the corpus packed into blocks, one shard and batch stream per worker, and the
evaluator on the held-out split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dist_llm_train.config import RunConfig
from dist_llm_train.data import BatchStream, LMData, load_corpus, prepare_lm_data, shard_blocks
from dist_llm_train.eval import Evaluator


@dataclass
class RunData:
    data: LMData
    shards: list[np.ndarray]
    streams: list[BatchStream]
    evaluator: Evaluator


def prepare_data(cfg: RunConfig, built) -> LMData:
    corpus = load_corpus(cfg.data.corpus)
    max_pos = getattr(getattr(built.module, "config", None), "max_position_embeddings", None) or getattr(
        getattr(built.module, "config", None), "n_positions", None)
    return prepare_lm_data(corpus, built.tokenizer, cfg.data.seq_len, built.kind, seed=cfg.seed,
                           max_train_tokens=cfg.data.max_train_tokens, max_positions=max_pos)


def worker_stream(cfg: RunConfig, data: LMData, shard: np.ndarray, worker_id: int, start_batch: int = 0) -> BatchStream:
    return BatchStream(data, shard, cfg.data.batch_size, seed=cfg.seed * 7919 + worker_id, kind=data.kind,
                       mlm_probability=cfg.data.mlm_probability, start_batch=start_batch)


def build_run_data(cfg: RunConfig, built, n_workers: int) -> RunData:
    data = prepare_data(cfg, built)
    shards = shard_blocks(data.train_doc_ids, n_workers, cfg.data.sharding, cfg.data.dirichlet_alpha, cfg.seed)
    streams = [worker_stream(cfg, data, shards[w], w) for w in range(n_workers)]
    evaluator = Evaluator.from_data(data, "validation", max_eval_tokens=cfg.eval.max_eval_tokens)
    return RunData(data, shards, streams, evaluator)
