"""Your own text: `text:PATH` and `parquet:PATH`.

text:PATH  a .txt file: each paragraph (text between blank lines) is a document; a directory: each
           *.txt file in it (recursively, sorted) is a document.
parquet:PATH  each row is a document: column `text` (or the only string column); an optional
           `split` column (train / validation / test) is honoured as given, an optional `title`
           column names the documents.
Without explicit splits, documents are split 90/5/5 by the hash of their text, so identical
paragraphs always land in the same split.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from dist_llm_train.data.corpus import SPLITS, Corpus, split_by_key
from dist_llm_train.errors import ConfigError, ResourceNotFoundError

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def _existing(path: str, kind: str) -> Path:
    p = Path(os.path.expanduser(path))
    if not p.exists():
        raise ResourceNotFoundError(f"corpus `{kind}:{path}`: {p} does not exist")
    return p


def text_corpus(path: str) -> Corpus:
    p = _existing(path, "text")
    if p.is_dir():
        files = sorted(p.rglob("*.txt"))
        docs = [f.read_text(encoding="utf-8", errors="replace").strip() for f in files]
        titles = [str(f.relative_to(p)) for f in files]
    else:
        raw = p.read_text(encoding="utf-8", errors="replace")
        docs = [d.strip() for d in _PARAGRAPH_BREAK.split(raw)]
        titles = [f"{p.name}#{i}" for i in range(len(docs))]
    keep = [i for i, d in enumerate(docs) if d]
    docs, titles = [docs[i] for i in keep], [titles[i] for i in keep]
    return split_by_key(f"text:{path}", docs, docs, description=f"text from {p}", titles=titles)


def parquet_corpus(path: str) -> Corpus:
    import pyarrow.parquet as pq

    p = _existing(path, "parquet")
    try:
        table = pq.read_table(p)
    except Exception as exc:  # pyarrow raises ArrowInvalid / OSError for non-parquet input
        raise ConfigError(f"corpus `parquet:{path}`: not a readable parquet file ({exc})") from exc
    cols = table.column_names
    text_col = "text" if "text" in cols else None
    if text_col is None:
        strings = [
            c
            for c in cols
            if c not in ("split", "title") and str(table.schema.field(c).type) in ("string", "large_string")
        ]
        if len(strings) != 1:
            raise ConfigError(
                f"corpus `parquet:{path}` needs a `text` column (or exactly one string column); columns: {cols}"
            )
        text_col = strings[0]
    docs = [d or "" for d in table.column(text_col).to_pylist()]
    titles = table.column("title").to_pylist() if "title" in cols else [f"row {i}" for i in range(len(docs))]
    titles = [str(t) for t in titles]
    if "split" not in cols:
        return split_by_key(f"parquet:{path}", docs, docs, description=f"rows of {p}", titles=titles)
    splits = table.column("split").to_pylist()
    bad = sorted({s for s in splits if s not in SPLITS})
    if bad:
        raise ConfigError(f"corpus `parquet:{path}`: column `split` has values {bad}; allowed: {SPLITS}")
    parts = {s: [d for d, sp in zip(docs, splits) if sp == s] for s in SPLITS}
    names = {s: [t for t, sp in zip(titles, splits) if sp == s] for s in SPLITS}
    empty = [s for s in SPLITS if not parts[s]]
    if empty:
        raise ConfigError(f"corpus `parquet:{path}`: split(s) {empty} have no rows")
    return Corpus(f"parquet:{path}", parts["train"], parts["validation"], parts["test"], f"rows of {p}", names)
