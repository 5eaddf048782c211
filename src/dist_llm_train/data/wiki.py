"""`wiki`: real English Wikipedia articles, the dump excerpt that gensim ships as test data.

gensim's own `extract_pages` reads the XML dump and `filter_wiki` strips templates, links, tables
and references. We then drop redirects and stubs (under 500 characters after cleaning), remove the
remaining bold/italic quote markup ('' and ''') and collapse runs of blank lines. About 3 MB of
article text remains; the split is by article title (see corpus.split_by_key).
"""

from __future__ import annotations

import bz2
import hashlib
import re

from dist_llm_train.data.corpus import Corpus, split_by_key
from dist_llm_train.data.corpus_cache import cached_corpus
from dist_llm_train.errors import ResourceNotFoundError
from dist_llm_train.models.assets import package_dir

DUMP = "test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
MIN_CHARS = 500
VERSION = "v1"

_QUOTES = re.compile(r"'{2,}")
_BLANKS = re.compile(r"\n{3,}")
_SPACES = re.compile(r"[ \t]+\n")


def dump_path():
    base = package_dir("gensim")
    if base is None or not (base / DUMP).exists():
        raise ResourceNotFoundError(
            "the `wiki` corpus reads the Wikipedia excerpt shipped with gensim's test data, but gensim is not "
            "installed (or was installed without test data); run `pip install gensim` (or `make install`)"
        )
    return base / DUMP


def clean(markup: str) -> str:
    from gensim.corpora.wikicorpus import filter_wiki

    text = filter_wiki(markup)
    text = _QUOTES.sub("", text)
    text = _SPACES.sub("\n", text)
    return _BLANKS.sub("\n\n", text).strip()


def build() -> Corpus:
    from gensim.corpora.wikicorpus import extract_pages

    titles, docs = [], []
    with bz2.open(dump_path()) as f:
        for title, markup, _pageid in extract_pages(f):
            if markup.lstrip().lower().startswith("#redirect"):
                continue
            text = clean(markup)
            if len(text) >= MIN_CHARS:
                titles.append(title)
                docs.append(text)
    return split_by_key(
        "wiki", titles, docs, description="English Wikipedia articles (gensim test dump), cleaned with filter_wiki"
    )


def load() -> Corpus:
    digest = hashlib.sha256(dump_path().read_bytes()).hexdigest()[:12]
    return cached_corpus("wiki", f"{VERSION}-{digest}", build)
