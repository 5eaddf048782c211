"""`dist-llm-train config check|show CONFIG [--set k=v ...]`: validate a config before any work."""

from __future__ import annotations

import yaml

from dist_llm_train.config import load_config


def register(sub) -> None:
    p = sub.add_parser("config", help="check or print a run configuration")
    p.add_argument("action", choices=["check", "show"])
    p.add_argument("config", nargs="?", default=None, help="YAML file or preset name (default: built-in defaults)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.set_defaults(func=run)


def run(args) -> int:
    cfg = load_config(args.config, args.overrides)
    if args.action == "show":
        print(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), end="")
    else:
        print(f"ok: {args.config or 'defaults'} is a valid configuration")
    return 0
