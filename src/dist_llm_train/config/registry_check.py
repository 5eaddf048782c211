"""Config validators that defer to each layer's registry.

The registries are the single source of truth for names; importing them lazily keeps config
loading cheap and lets a section validate even while a layer is still being built.
"""

from __future__ import annotations

import importlib


def _registry(module: str):
    try:
        return importlib.import_module(module)
    except ImportError:  # layer not importable: nothing to check against
        return None


def check_codec(spec: str) -> str:
    spec = spec.strip()
    if spec.lower() in ("", "none", "dense", "fp32"):
        return "none"
    mod = _registry("dist_llm_train.compression")
    if mod is not None and hasattr(mod, "make_codec"):
        mod.make_codec(spec)  # raises ValueError naming the problem and the allowed codecs
    return spec


def _check_name(module: str, lister: str, what: str, name: str, base: str | None = None) -> str:
    """Raise a ValueError listing the allowed names when `base` (default: name) is not registered."""
    mod = _registry(module)
    if mod is not None and hasattr(mod, lister):
        names = getattr(mod, lister)()
        if (base or name) not in names:
            raise ValueError(f"unknown {what} {name!r}; allowed: {', '.join(sorted(names))}")
    return name


def check_aggregator(rule: str) -> str:
    return _check_name("dist_llm_train.aggregation", "available_aggregators", "aggregation rule", rule)


def check_attack(name: str) -> str:
    return _check_name("dist_llm_train.attacks", "available_attacks", "attack", name, base=name.split(":", 1)[0])


def check_model(name: str) -> str:
    return _check_name("dist_llm_train.models", "available_models", "model", name)
