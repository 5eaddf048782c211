"""The `dist-llm-train` command.

Each subcommand lives in its own module under `dist_llm_train.commands` and exposes
`register(subparsers)`; a module whose optional dependencies are missing is skipped with its
reason shown in `--help`, so one broken layer never takes the whole CLI down.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from dist_llm_train import __version__
from dist_llm_train.errors import DistLLMError, Terminated

COMMAND_MODULES = [
    "validate",
    "train",
    "serve",
    "worker",
    "tokens",
    "bench",
    "config_cmd",
    "list_cmd",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dist-llm-train",
        description="Train language models across heterogeneous, far-apart, partly untrusted machines.",
    )
    parser.add_argument("--version", action="version", version=f"dist-llm-train {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(f"dist_llm_train.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("dist_llm_train.commands"):
                continue  # command not part of this build
            raise
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except DistLLMError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Terminated as exc:
        print(f"stopped: {exc}", file=sys.stderr)
        return 128 + exc.signum


if __name__ == "__main__":  # `python -m dist_llm_train.cli ...` as well as `python -m dist_llm_train ...`
    raise SystemExit(main())
