"""`load_corpus(name)`, `check_corpus(name)` and `available_corpora()`: the corpus names a config may use.

`check_corpus` is what the config loader calls: it answers "could this name load?" without reading
a corpus, so a typo or a missing file stops the run at load time, not after the model is built.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from dist_llm_train.data import books, user_files, wiki, wikitext
from dist_llm_train.data.corpus import Corpus
from dist_llm_train.errors import ConfigError

CORPORA: dict[str, Callable[[], Corpus]] = {
    "wiki": wiki.load,
    "shakespeare": books.shakespeare,
    "kjv": books.kjv,
    "wikitext-2": lambda: wikitext.load("wikitext-2"),
    "wikitext-103": lambda: wikitext.load("wikitext-103"),
}
FILE_KINDS = {"text": user_files.text_corpus, "parquet": user_files.parquet_corpus}


def available_corpora() -> list[str]:
    return [*CORPORA, "text:PATH", "parquet:PATH"]


def check_corpus(name: str) -> str:
    """Raise ConfigError unless `name` is a registered corpus or a `text:` / `parquet:` path that exists."""
    kind, sep, rest = name.partition(":")
    if sep and kind in FILE_KINDS:
        if not rest:
            raise ConfigError(f"corpus {name!r} needs a path after '{kind}:', e.g. {kind}:data/my_corpus")
        path = Path(os.path.expanduser(rest))
        if not path.exists():
            raise ConfigError(f"corpus {name!r}: {path} does not exist; give an existing file or directory")
        if kind == "parquet" and path.is_dir():
            raise ConfigError(f"corpus {name!r}: {path} is a directory; parquet:PATH reads one .parquet file")
        return name
    if name not in CORPORA:
        raise ConfigError(f"unknown corpus {name!r}; allowed: {', '.join(available_corpora())}")
    return name


def load_corpus(name: str) -> Corpus:
    """A Corpus by name (see available_corpora); `text:PATH` / `parquet:PATH` read your own files."""
    kind, sep, rest = name.partition(":")
    if sep and kind in FILE_KINDS:
        if not rest:
            raise ConfigError(f"corpus {name!r} needs a path after '{kind}:'")
        return FILE_KINDS[kind](rest)
    if name not in CORPORA:
        raise ConfigError(f"unknown corpus {name!r}; available: {', '.join(available_corpora())}")
    return CORPORA[name]()
