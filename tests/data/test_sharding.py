"""Shards are disjoint, cover every block, are deterministic per seed, and as skewed as the mode says."""

import numpy as np
import pytest

from dist_llm_train.data import shard_blocks
from dist_llm_train.errors import ConfigError, PreconditionError


def _check_partition(shards, n_blocks):
    allidx = np.concatenate(shards)
    assert allidx.size == n_blocks and np.unique(allidx).size == n_blocks  # covering and disjoint
    assert all(s.size > 0 for s in shards)


@pytest.mark.parametrize("mode", ["iid", "non_iid", "dirichlet"])
@pytest.mark.parametrize("n", [1, 3, 8])
def test_partition_and_determinism(wiki_causal, mode, n):
    doc_ids = wiki_causal.train_doc_ids
    a = shard_blocks(wiki_causal, n, mode, alpha=0.3, seed=5)
    b = shard_blocks(doc_ids, n, mode, alpha=0.3, seed=5)
    _check_partition(a, doc_ids.size)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    if n > 1:
        c = shard_blocks(doc_ids, n, mode, alpha=0.3, seed=6)
        assert any(not np.array_equal(x, y) for x, y in zip(a, c))


def test_iid_shards_are_balanced_and_mix_documents(wiki_causal):
    shards = shard_blocks(wiki_causal, 4, "iid", seed=0)
    sizes = [s.size for s in shards]
    assert max(sizes) - min(sizes) <= 1
    docs = wiki_causal.train_doc_ids
    assert all(np.unique(docs[s]).size > 50 for s in shards)  # each worker sees most articles


def test_non_iid_gives_each_worker_its_own_contiguous_articles(wiki_causal):
    docs = wiki_causal.train_doc_ids
    shards = shard_blocks(wiki_causal, 4, "non_iid", seed=0)
    owned = [set(np.unique(docs[s]).tolist()) for s in shards]
    for i in range(4):
        for j in range(i + 1, 4):
            assert not owned[i] & owned[j]  # no article is split across workers
    for o in owned:
        assert sorted(o) == list(range(min(o), max(o) + 1))  # consecutive articles
    sizes = np.array([s.size for s in shards])
    assert sizes.min() > 0.3 * sizes.mean()  # balanced as well as article boundaries allow


def test_dirichlet_skew_follows_alpha(wiki_causal):
    docs = wiki_causal.train_doc_ids

    def mean_share_of_top_worker(alpha):
        shards = shard_blocks(docs, 4, "dirichlet", alpha=alpha, seed=0)
        owner = np.empty(docs.size, dtype=int)
        for w, s in enumerate(shards):
            owner[s] = w
        tops = []
        for d in np.unique(docs):
            counts = np.bincount(owner[docs == d], minlength=4)
            tops.append(counts.max() / counts.sum())
        return float(np.mean(tops))

    skewed, mixed = mean_share_of_top_worker(0.05), mean_share_of_top_worker(100.0)
    assert skewed > 0.9 and mixed < 0.45


def test_sharding_errors():
    docs = np.zeros(5, dtype=np.int32)
    with pytest.raises(PreconditionError, match="cannot give each"):
        shard_blocks(docs, 6)
    with pytest.raises(ConfigError, match="sharding mode"):
        shard_blocks(docs, 2, "random")
    few_docs = np.repeat(np.arange(2), 10)
    _check_partition(shard_blocks(few_docs, 4, "non_iid"), 20)  # fewer articles than workers: still served
