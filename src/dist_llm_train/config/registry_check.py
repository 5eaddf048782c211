"""Config validators that defer to each layer's registry.

The registries are the single source of truth for names, so the config never drifts from what the
code can build. They are imported lazily (config loading stays cheap until a check needs a layer),
but never optionally: an import error is a broken install and must surface, not turn checks off.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType


def _registry(module: str) -> ModuleType:
    return importlib.import_module(module)


def check_codec(spec: str) -> str:
    spec = spec.strip()
    if spec.lower() in ("", "none", "dense", "fp32"):
        return "none"
    _registry("dist_llm_train.compression").make_codec(spec)  # ValueError naming the problem and the codecs
    return spec


def _check_name(module: str, lister: str, what: str, name: str, base: str | None = None) -> str:
    """Raise a ValueError listing the allowed names when `base` (default: name) is not registered."""
    names = getattr(_registry(module), lister)()
    if (base or name) not in names:
        raise ValueError(f"unknown {what} {name!r}; allowed: {', '.join(sorted(names))}")
    return name


def check_aggregator(rule: str) -> str:
    return _check_name("dist_llm_train.aggregation", "available_aggregators", "aggregation rule", rule)


def check_attack(name: str) -> str:
    return _check_name("dist_llm_train.attacks", "available_attacks", "attack", name, base=name.split(":", 1)[0])


def check_model(name: str) -> str:
    return _check_name("dist_llm_train.models", "available_models", "model", name)


def check_corpus(name: str) -> str:
    """A registered corpus, or `text:PATH` / `parquet:PATH` naming a path that exists (nothing is read)."""
    _registry("dist_llm_train.data").check_corpus(name)
    return name


def model_max_positions(name: str, path: str | None = None) -> int | None:
    """The context length of model preset `name`, without building it.

    With `model.path` the checkpoint's own config.json decides when it says (a user checkpoint may
    differ from the preset); None when it cannot be told without loading the weights.
    """
    if path:
        cfg_file = Path(path).expanduser() / "config.json"
        if cfg_file.is_file():
            try:
                raw = json.loads(cfg_file.read_text())
            except (OSError, ValueError):
                return None
            for key in ("n_positions", "max_position_embeddings"):
                if isinstance(raw.get(key), int):
                    return raw[key]
        return None
    return _registry("dist_llm_train.models").get_preset(name).max_positions
