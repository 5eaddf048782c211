"""Where the project keeps caches (tokenized corpora, converted weights) and runs.

`DIST_LLM_TRAIN_CACHE` overrides the cache root; the default follows XDG (~/.cache/dist_llm_train).
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    root = os.environ.get("DIST_LLM_TRAIN_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "dist_llm_train"
    )
    path = Path(root, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
