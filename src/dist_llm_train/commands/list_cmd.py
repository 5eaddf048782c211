"""`dist-llm-train list WHAT`: the names a config may use, read from each layer's registry."""

from __future__ import annotations

import importlib

from dist_llm_train.config import PRESET_DIR

SOURCES = {
    "codecs": ("dist_llm_train.compression", "available_codecs"),
    "rules": ("dist_llm_train.aggregation", "available_aggregators"),
    "attacks": ("dist_llm_train.attacks", "available_attacks"),
    "models": ("dist_llm_train.models", "available_models"),
    "corpora": ("dist_llm_train.data", "available_corpora"),
    "topologies": ("dist_llm_train.network", "available_topologies"),
}


def register(sub) -> None:
    p = sub.add_parser("list", help="list codecs, rules, attacks, models, corpora, topologies or presets")
    p.add_argument("what", choices=[*SOURCES, "presets"])
    p.set_defaults(func=run)


def run(args) -> int:
    if args.what == "presets":
        names = sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))
    else:
        modname, fn = SOURCES[args.what]
        mod = importlib.import_module(modname)
        if not hasattr(mod, fn):
            print(f"(no {args.what} in this build)")
            return 1
        names = list(getattr(mod, fn)())
        if args.what == "topologies":  # files for `network.topology`, beside the presets of `network.preset`
            from dist_llm_train.config.topology_file import TOPOLOGY_DIR

            names += [f"{p.stem} (file, network.topology: {p.stem})" for p in sorted(TOPOLOGY_DIR.glob("*.yaml"))]
    for n in names:
        print(n)
    return 0
