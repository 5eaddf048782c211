"""`wikitext-2` / `wikitext-103` through `datasets`, from the user's Hugging Face cache only.

The standard WikiText splits are kept as they are (so perplexities compare with published ones);
documents are articles, found at WikiText's top-level " = Title = " heading lines.
"""

from __future__ import annotations

import re

from dist_llm_train.data.corpus import Corpus
from dist_llm_train.errors import ResourceNotFoundError
from dist_llm_train.models.hf_loading import offline

CONFIGS = {"wikitext-2": "wikitext-2-raw-v1", "wikitext-103": "wikitext-103-raw-v1"}
REPOS = ("Salesforce/wikitext", "wikitext")
_HEADING = re.compile(r"^ = [^=].* = $")


def articles(lines: list[str]) -> tuple[list[str], list[str]]:
    """(titles, texts) from WikiText's line list: a new article starts at each ' = Title = ' line."""
    titles: list[str] = []
    texts: list[list[str]] = []
    for line in lines:
        bare = line.rstrip("\n")
        if _HEADING.match(bare):
            titles.append(bare.strip(" ="))
            texts.append([])
        elif texts:
            texts[-1].append(bare.strip())
        elif bare.strip():
            titles.append("(preamble)")
            texts.append([bare.strip()])
    docs = ["\n".join(t for t in body if t).strip() for body in texts]
    keep = [i for i, d in enumerate(docs) if d]
    return [titles[i] for i in keep], [docs[i] for i in keep]


def load(name: str) -> Corpus:
    offline()
    import datasets

    offline()

    datasets.disable_progress_bars()
    last: Exception | None = None
    for repo in REPOS:
        try:
            ds = datasets.load_dataset(repo, CONFIGS[name])
            break
        except Exception as exc:  # datasets raises assorted types (ConnectionError, FileNotFoundError, ValueError)
            last = exc
    else:
        raise ResourceNotFoundError(
            f"corpus {name!r} is not in this machine's Hugging Face datasets cache ({type(last).__name__}: "
            f"{str(last).splitlines()[0] if last else ''}). On a machine with internet run "
            f"`python -c \"import datasets; datasets.load_dataset('Salesforce/wikitext', '{CONFIGS[name]}')\"` "
            "and copy ~/.cache/huggingface/datasets (and hub) here, or use corpus `wiki` (shipped offline)."
        ) from last
    parts, titles = {}, {}
    for split in ("train", "validation", "test"):
        titles[split], parts[split] = articles(ds[split]["text"])
    return Corpus(name, parts["train"], parts["validation"], parts["test"], f"WikiText ({CONFIGS[name]})", titles)
