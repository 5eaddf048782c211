"""Accept the flat config dict of the validation guide and translate it to a RunConfig dict.

Users arrive with the guide's template (`{'model_name': 'gpt2', 'use_async': True,
'compression': 'topk', 'compression_ratio': 0.05, 'aggregation_rule': 'krum', 'krum_f': 1, ...}`);
this maps each of its keys to the sectioned config, and refuses keys it does not know by name.
"""

from __future__ import annotations

from typing import Any

from dist_llm_train.errors import ConfigError

GUIDE_KEYS = {
    "model_name", "dataset", "dataset_config", "num_workers", "num_epochs", "batch_size", "learning_rate",
    "use_async", "max_staleness", "adaptive_staleness", "compression", "compression_ratio", "aggregation_rule",
    "krum_f", "gradient_clip_norm", "enable_dp", "max_steps", "seq_len",
}

MODEL_NAMES = {"gpt2": "gpt2-small", "gpt2-medium": "gpt2-medium", "bert-base-uncased": "bert-base"}


def looks_like_guide_config(d: dict) -> bool:
    return bool(d) and set(d) <= GUIDE_KEYS and bool(set(d) & {"model_name", "use_async", "aggregation_rule"})


def from_guide_config(d: dict[str, Any]) -> dict[str, Any]:
    unknown = set(d) - GUIDE_KEYS
    if unknown:
        raise ConfigError(f"unknown key(s) {sorted(unknown)} in a validation-guide style config; "
                          f"known: {', '.join(sorted(GUIDE_KEYS))}")
    out: dict[str, Any] = {"model": {}, "data": {}, "sync": {}, "compression": {}, "aggregation": {},
                           "worker": {}, "optimizer": {}, "network": {}}
    if "model_name" in d:
        out["model"]["name"] = MODEL_NAMES.get(d["model_name"], d["model_name"])
    if "dataset" in d:
        ds = str(d["dataset"])
        if ds == "wikitext":
            cfg = str(d.get("dataset_config", "wikitext-2-raw-v1"))
            ds = "wikitext-103" if "103" in cfg else "wikitext-2"
        out["data"]["corpus"] = ds
    if "batch_size" in d:
        out["data"]["batch_size"] = int(d["batch_size"])
    if "seq_len" in d:
        out["data"]["seq_len"] = int(d["seq_len"])
    if "num_workers" in d:
        out["network"]["num_workers"] = int(d["num_workers"])
    if "learning_rate" in d:
        out["optimizer"]["lr"] = float(d["learning_rate"])
    if "use_async" in d:
        out["sync"]["mode"] = "async" if d["use_async"] else "sync"
    if "max_staleness" in d:
        out["sync"]["max_staleness"] = int(d["max_staleness"])
    if "adaptive_staleness" in d:
        out["sync"]["adaptive_staleness"] = bool(d["adaptive_staleness"])
    comp = d.get("compression")
    if comp in (None, False, "none"):
        out["compression"]["codec"] = "none"
    elif "compression_ratio" in d and ":" not in str(comp):
        out["compression"]["codec"] = f"{comp}:{d['compression_ratio']}"
    else:
        out["compression"]["codec"] = str(comp)
    if "aggregation_rule" in d:
        out["aggregation"]["rule"] = d["aggregation_rule"]
    if "krum_f" in d:
        out["aggregation"]["f"] = int(d["krum_f"])
    if "gradient_clip_norm" in d:
        out["worker"]["clip_norm"] = d["gradient_clip_norm"]
    if d.get("enable_dp"):
        out["privacy"] = {"enabled": True}
    if "max_steps" in d:
        out["max_server_steps"] = int(d["max_steps"])
    rule = out["aggregation"].get("rule", "mean")
    f = out["aggregation"].get("f", 0)
    if rule != "mean" or f:
        # robust rules need several inputs per step: aggregate one update from each worker
        out["sync"]["buffer_size"] = out["network"].get("num_workers", 1)
    return {k: v for k, v in out.items() if v != {}}
