"""A cleaned corpus cached once as parquet (split, title, text) and read back through `datasets`.

Cleaning Wikipedia markup takes seconds; reading a parquet file takes milliseconds. The cache key
includes a digest of the source and a format version, so a changed source or cleaning rule never
serves stale text. Writes go to a temporary name then rename, so parallel workers cannot read half a file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from dist_llm_train.data.corpus import SPLITS, Corpus
from dist_llm_train.paths import cache_dir


def cached_corpus(name: str, key: str, build: Callable[[], Corpus]) -> Corpus:
    """The corpus from cache_dir/corpora/<name>-<key>.parquet, building and writing it on a miss."""
    path = cache_dir("corpora") / f"{_safe(name)}-{key}.parquet"
    if path.exists():
        return read_parquet_corpus(path, name)
    corpus = build()
    write_parquet_corpus(corpus, path)
    return corpus


def write_parquet_corpus(corpus: Corpus, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = {"split": [], "title": [], "text": []}
    for s in SPLITS:
        docs = corpus.split(s)
        titles = corpus.titles.get(s) or [f"{s}-{i}" for i in range(len(docs))]
        rows["split"] += [s] * len(docs)
        rows["title"] += list(titles)
        rows["text"] += list(docs)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    pq.write_table(pa.table(rows), tmp)
    meta = path.with_suffix(".txt")
    meta.write_text(corpus.description)
    os.replace(tmp, path)


def read_parquet_corpus(path: Path, name: str) -> Corpus:
    import datasets

    datasets.disable_progress_bars()
    ds = datasets.Dataset.from_parquet(str(path), cache_dir=str(cache_dir("hf_datasets")))
    cols = ds.to_dict()
    parts = {s: [] for s in SPLITS}
    titles = {s: [] for s in SPLITS}
    for split, title, text in zip(cols["split"], cols["title"], cols["text"]):
        parts[split].append(text)
        titles[split].append(title)
    meta = path.with_suffix(".txt")
    return Corpus(
        name=name,
        train=parts["train"],
        validation=parts["validation"],
        test=parts["test"],
        description=meta.read_text() if meta.exists() else "",
        titles=titles,
    )


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
