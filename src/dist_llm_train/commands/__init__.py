"""Subcommands of `dist-llm-train`; each module has `register(subparsers)`."""
