"""Corpus: a named text collection split into train / validation / test documents.

Splits are made by document (a Wikipedia article, a play, a Bible chapter, a paragraph of your
file), never inside one, so no text of a held-out document leaks into training. The split is a
pure function of each document's key (its title, or its text for your own files): documents are
ordered by SHA-256 of the key and cut 90/5/5, which is stable across machines, Python versions and
the order the source happens to list documents in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from dist_llm_train.errors import PreconditionError

SPLITS = ("train", "validation", "test")
FRACTIONS = (0.90, 0.05, 0.05)


@dataclass
class Corpus:
    """Documents (strings) per split; `titles` (parallel lists) name each document where known."""

    name: str
    train: list[str]
    validation: list[str]
    test: list[str]
    description: str = ""
    titles: dict[str, list[str]] = field(default_factory=dict)

    def split(self, name: str) -> list[str]:
        if name not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, not {name!r}")
        return getattr(self, name)

    def sizes(self) -> dict[str, int]:
        return {s: len(self.split(s)) for s in SPLITS}

    def chars(self) -> dict[str, int]:
        return {s: sum(len(d) for d in self.split(s)) for s in SPLITS}

    def __repr__(self) -> str:
        return f"Corpus({self.name!r}, docs={self.sizes()}, chars={self.chars()})"


def _rank(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def split_by_key(
    name: str,
    keys: Sequence[str],
    docs: Sequence[str],
    description: str = "",
    titles: Sequence[str] | None = None,
    fractions=FRACTIONS,
) -> Corpus:
    """Cut documents 90/5/5 by the SHA-256 order of their keys; each split keeps the source order.

    Every split gets at least one document (so a small file still has a held-out set); fewer than
    three documents cannot be split and raise PreconditionError.
    """
    n = len(docs)
    titles = keys if titles is None else titles
    if len(keys) != n or len(titles) != n:
        raise ValueError("keys, titles and docs must have the same length")
    if n < 3:
        raise PreconditionError(
            f"corpus {name!r} has {n} document(s); at least 3 are needed for train/validation/test splits "
            "(documents are paragraphs separated by blank lines, or rows of a parquet file)"
        )
    order = sorted(range(n), key=lambda i: (_rank(keys[i]), i))
    n_val = max(1, round(fractions[1] * n))
    n_test = max(1, round(fractions[2] * n))
    n_train = n - n_val - n_test
    which = {}
    for pos, i in enumerate(order):
        which[i] = 0 if pos < n_train else (1 if pos < n_train + n_val else 2)
    parts: list[list[str]] = [[], [], []]
    names: list[list[str]] = [[], [], []]
    for i in range(n):
        parts[which[i]].append(docs[i])
        names[which[i]].append(titles[i])
    return Corpus(
        name=name,
        train=parts[0],
        validation=parts[1],
        test=parts[2],
        description=description,
        titles=dict(zip(SPLITS, names)),
    )
