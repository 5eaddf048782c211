"""BatchStream: only the worker's shard, every block once per epoch, reproducible and resumable."""

import numpy as np
import pytest
import torch

from dist_llm_train.data import IGNORE_INDEX, BatchStream, shard_blocks
from dist_llm_train.errors import ConfigError


def test_causal_batches_come_only_from_the_shard_and_cover_it_each_epoch(wiki_causal):
    shard = shard_blocks(wiki_causal, 8, "non_iid", seed=0)[3]
    s = BatchStream(wiki_causal, shard, batch_size=8, seed=1)
    seen = []
    steps = shard.size // 8
    for k in range(steps):
        idx = s.indices_for(k)
        b = s.next_batch()
        assert b["input_ids"].dtype == torch.int64 and b["input_ids"].shape == (8, 64)
        assert torch.equal(b["input_ids"], b["labels"])
        assert torch.equal(b["input_ids"], torch.from_numpy(wiki_causal.train_blocks[idx].astype(np.int64)))
        seen.extend(idx.tolist())
    assert set(seen) <= set(shard.tolist()) and len(set(seen)) == len(seen) == steps * 8


def test_stream_is_reproducible_and_resumes_from_its_state(wiki_causal):
    shard = shard_blocks(wiki_causal, 2, "iid", seed=0)[0]
    a = BatchStream(wiki_causal, shard, 4, seed=9)
    first = [a.next_batch()["input_ids"] for _ in range(5)]
    state = a.state_dict()
    later = [a.next_batch()["input_ids"] for _ in range(3)]
    b = BatchStream(wiki_causal, shard, 4, seed=9)
    assert all(torch.equal(x, b.next_batch()["input_ids"]) for x in first)
    c = BatchStream(wiki_causal, shard, 4, seed=9)
    c.load_state_dict(state)
    assert all(torch.equal(x, c.next_batch()["input_ids"]) for x in later)
    d = BatchStream(wiki_causal, shard, 4, seed=10)
    assert not torch.equal(first[0], d.next_batch()["input_ids"])


def test_small_shard_wraps_into_the_next_epoch(wiki_causal):
    s = BatchStream(wiki_causal, np.array([5, 6, 7]), batch_size=4, seed=0)
    b = s.next_batch()
    assert b["input_ids"].shape[0] == 4 and s.epoch > 1


def test_mlm_batches_are_dynamically_masked(wiki_mlm):
    shard = np.arange(wiki_mlm.num_train_blocks)
    s = BatchStream(wiki_mlm, shard, 16, seed=0, mlm_probability=0.15)
    b = s.next_batch()
    assert set(b) == {"input_ids", "labels", "attention_mask"}
    chosen = b["labels"] != IGNORE_INDEX
    assert 0.10 < chosen.float().mean().item() < 0.20
    assert (b["input_ids"][:, 0] == 101).all() and (b["input_ids"][:, -1] == 102).all()
    # the same block masked again in a later epoch gets a different mask
    s2 = BatchStream(wiki_mlm, np.array([0]), 1, seed=0)
    m1, m2 = s2.next_batch()["labels"], s2.next_batch()["labels"]
    assert not torch.equal(m1, m2)


def test_stream_argument_errors(wiki_causal, wiki_mlm):
    with pytest.raises(ConfigError, match="non-empty shard"):
        BatchStream(wiki_causal, np.array([], dtype=np.int64), 4)
    with pytest.raises(ConfigError, match="must lie in"):
        BatchStream(wiki_causal, np.array([10**9]), 4)
    with pytest.raises(ConfigError, match="does not match"):
        BatchStream(wiki_causal, np.array([0]), 4, kind="mlm")
