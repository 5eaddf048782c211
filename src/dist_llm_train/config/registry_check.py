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


def check_aggregator(rule: str) -> str:
    mod = _registry("dist_llm_train.aggregation")
    if mod is not None and hasattr(mod, "available_aggregators"):
        names = mod.available_aggregators()
        if rule not in names:
            raise ValueError(f"unknown aggregation rule {rule!r}; allowed: {', '.join(sorted(names))}")
    return rule


def check_attack(name: str) -> str:
    mod = _registry("dist_llm_train.attacks")
    if mod is not None and hasattr(mod, "available_attacks"):
        names = mod.available_attacks()
        base = name.split(":", 1)[0]
        if base not in names:
            raise ValueError(f"unknown attack {name!r}; allowed: {', '.join(sorted(names))}")
    return name


def check_model(name: str) -> str:
    mod = _registry("dist_llm_train.models")
    if mod is not None and hasattr(mod, "available_models"):
        names = mod.available_models()
        if name not in names:
            raise ValueError(f"unknown model {name!r}; allowed: {', '.join(sorted(names))}")
    return name
