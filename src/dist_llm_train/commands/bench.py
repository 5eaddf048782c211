"""`dist-llm-train bench TOPIC`: the side-by-side benchmarks, each printing ratios to a same-run baseline.

Each topic is a module with `add_arguments(parser)` and `run(args) -> int`; the scripts in
`benchmarks/` call the same modules.
"""

from __future__ import annotations

import importlib

TOPICS = {
    "compression": "dist_llm_train.compression.benchmark",
    "aggregation": "dist_llm_train.aggregation.benchmark",
    "aggregation-quality": "dist_llm_train.aggregation.quality_benchmark",
    "models": "dist_llm_train.models.benchmark",
    "sim": "dist_llm_train.runtime.benchmark",
    "transport": "dist_llm_train.runtime.grpc.benchmark",
    "netns": "dist_llm_train.runtime.grpc.netns_benchmark",
    "adversarial": "dist_llm_train.runtime.grpc.adversarial_benchmark",
}


def register(sub) -> None:
    p = sub.add_parser("bench", help="run a benchmark (prints ratios against a baseline measured in the same run)")
    tsub = p.add_subparsers(dest="topic", metavar="TOPIC")
    for topic, modname in TOPICS.items():
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("dist_llm_train"):
                continue
            raise
        tp = tsub.add_parser(topic, help=(mod.__doc__ or "").strip().splitlines()[0] if mod.__doc__ else None)
        mod.add_arguments(tp)
        tp.set_defaults(func=mod.run)
