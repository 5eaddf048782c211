"""Splitting training blocks across workers: iid, non_iid (contiguous articles), dirichlet(alpha).

Real federated data is not IID: a worker holds whole documents of its own, and how skewed that is
changes how much robust aggregation mistakes honest-but-different workers for attackers. The three
modes span that range. Shards are disjoint, cover every block, are never empty, and depend only on
(document ids, n_workers, mode, alpha, seed).
"""

from __future__ import annotations

import numpy as np

from dist_llm_train.errors import ConfigError, PreconditionError

MODES = ("iid", "non_iid", "dirichlet")


def shard_blocks(doc_ids, n_workers: int, mode: str = "iid", alpha: float = 0.5, seed: int = 0) -> list[np.ndarray]:
    """Block indices per worker (sorted int64 arrays).

    doc_ids: the document id of each block (LMData.train_doc_ids), or an LMData.
    iid: a seeded permutation cut into equal parts. non_iid: documents in corpus order cut into
    n contiguous groups of about equal block counts (a worker sees only its own articles; which
    group goes to which worker is seeded). dirichlet: each document's blocks are divided among
    workers in proportions drawn from Dirichlet(alpha); small alpha puts most of a document on one
    worker, large alpha approaches iid.
    """
    doc_ids = np.asarray(getattr(doc_ids, "train_doc_ids", doc_ids))
    n_blocks = doc_ids.shape[0]
    if mode not in MODES:
        raise ConfigError(f"sharding mode must be one of {MODES}, not {mode!r}")
    if n_workers < 1:
        raise ConfigError(f"n_workers must be >= 1, not {n_workers}")
    if n_blocks < n_workers:
        raise PreconditionError(
            f"{n_blocks} training blocks cannot give each of {n_workers} workers a shard; "
            "use fewer workers, a shorter seq_len or a larger corpus"
        )
    rng = np.random.default_rng([seed, 0x5A4D])
    if mode == "iid":
        shards = np.array_split(rng.permutation(n_blocks), n_workers)
    elif mode == "non_iid":
        shards = _contiguous_documents(doc_ids, n_workers)
        shards = [shards[i] for i in rng.permutation(n_workers)]
    else:
        if alpha <= 0:
            raise ConfigError(f"dirichlet alpha must be > 0, not {alpha}")
        shards = _dirichlet(doc_ids, n_workers, alpha, rng)
    return [np.sort(np.asarray(s, dtype=np.int64)) for s in shards]


def _contiguous_documents(doc_ids: np.ndarray, n: int) -> list[np.ndarray]:
    """n groups of consecutive documents with block counts near total/n; every group non-empty.

    Cuts fall on document boundaries when there are at least n documents; with fewer documents
    than workers, a document is cut into block ranges (there is no other way to serve everyone).
    """
    order = np.argsort(doc_ids, kind="stable")
    sorted_docs = doc_ids[order]
    boundaries = np.flatnonzero(np.diff(sorted_docs)) + 1  # block positions where a new document starts
    total = order.size
    if boundaries.size + 1 < n:
        return np.array_split(order, n)
    cuts = []
    lo = 0
    for k in range(1, n):
        target = round(k * total / n)
        # candidates leave room for the workers still to serve: one document boundary each
        allowed = boundaries[(boundaries > lo)]
        allowed = allowed[: allowed.size - (n - 1 - k)] if n - 1 - k > 0 else allowed
        cut = int(allowed[np.argmin(np.abs(allowed - target))])
        cuts.append(cut)
        lo = cut
    return np.split(order, cuts)


def _dirichlet(doc_ids: np.ndarray, n: int, alpha: float, rng: np.random.Generator) -> list[np.ndarray]:
    owner = np.empty(doc_ids.shape[0], dtype=np.int64)
    for d in np.unique(doc_ids):
        idx = np.flatnonzero(doc_ids == d)
        p = rng.dirichlet(np.full(n, alpha))
        counts = rng.multinomial(idx.size, p)
        owner[idx] = np.repeat(np.arange(n), counts)  # contiguous stretches of the document per worker
    sizes = np.bincount(owner, minlength=n)
    for w in np.flatnonzero(sizes == 0):  # give an empty worker one block from the largest shard
        donor = int(np.argmax(sizes))
        take = np.flatnonzero(owner == donor)[-1]
        owner[take] = w
        sizes[donor] -= 1
        sizes[w] += 1
    return [np.flatnonzero(owner == w) for w in range(n)]
