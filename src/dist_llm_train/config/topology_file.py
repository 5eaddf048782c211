"""`network.topology: PATH`: the workers' links from a YAML file in the validation guide's format.

    workers:
      - {name: us-east, bandwidth: 1000, latency: 50, jitter: 5, loss: 0.001, speed: 1.0, count: 4}

The file is read when the config is loaded and its entries become `network.workers`, so the
resolved config (what the run directory keeps and what the gRPC server hands to remote workers)
is self-contained. A relative path is looked up next to the config file, then in the working
directory, then among the shipped topologies (`presets/topologies/`), with or without `.yaml`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from dist_llm_train.errors import ConfigError

TOPOLOGY_DIR = Path(__file__).resolve().parent.parent / "presets" / "topologies"
KEY = "network.topology"


def available_topology_files() -> list[str]:
    return sorted(p.stem for p in TOPOLOGY_DIR.glob("*.yaml"))


def find_topology_file(spec: str, base_dir: Path | None = None) -> Path:
    p = Path(spec).expanduser()
    if p.is_absolute():
        candidates = [p]
    else:
        roots = [r for r in (base_dir, Path.cwd(), TOPOLOGY_DIR) if r is not None]
        candidates = [r / p for r in roots]
        if not p.suffix:
            candidates += [r / f"{spec}.yaml" for r in roots]
    for c in candidates:
        if c.is_file():
            return c
    tried = ", ".join(str(c) for c in dict.fromkeys(candidates))
    raise ConfigError(f"{KEY}: file {spec!r} not found (looked at {tried}); give a YAML file with "
                      f"`workers: [...]` or a shipped topology ({', '.join(available_topology_files()) or 'none'})")


def read_topology_file(path: Path) -> list[dict[str, Any]]:
    """The file's worker entries, each validated as a link (errors name the file and the entry)."""
    from dist_llm_train.config.schema import LinkConfig

    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{KEY}: {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("workers"), list) or not raw["workers"]:
        got = type(raw).__name__ if not isinstance(raw, dict) else f"keys {sorted(raw)}"
        raise ConfigError(f"{KEY}: {path} must be a mapping with a non-empty list `workers: [{{name, bandwidth, "
                          f"latency, jitter, loss, speed, count}}, ...]` (got {got})")
    extra = sorted(set(raw) - {"workers", "name", "description"})
    if extra:
        raise ConfigError(f"{KEY}: {path} has unknown top-level key(s) {extra}; allowed: workers, name, description")
    try:
        links = TypeAdapter(list[LinkConfig]).validate_python(raw["workers"])
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()) if not (isinstance(p, str) and "[" in p))
            reason = err.get("msg", "invalid value").removeprefix("Value error, ")
            given = err.get("input")
            given_s = "" if isinstance(given, dict) else f" (got {given!r})"
            lines.append(f"workers.{loc}: {reason}{given_s}")
        raise ConfigError(f"{KEY}: {path}: " + "; ".join(lines)) from None
    return [lk.model_dump(exclude_none=True) for lk in links]


def expand_topology(data: dict[str, Any], base_dir: Path | None = None) -> dict[str, Any]:
    """Replace `network.topology` in a raw config dict by the `network.workers` its file lists."""
    net = data.get("network")
    if not isinstance(net, dict) or net.get("topology") is None:
        return data
    spec = net["topology"]
    if not isinstance(spec, str):
        raise ConfigError(f"{KEY}: give a path to a YAML file, got {spec!r}")
    if net.get("workers"):
        raise ConfigError(f"{KEY}: both network.topology ({spec!r}) and network.workers are given; keep one")
    preset = net.get("preset")
    if preset not in (None, "custom", "lan"):  # lan is the default, so it may just be unset
        raise ConfigError(f"{KEY}: network.preset is {preset!r}; a topology file replaces the preset, "
                          "so drop network.preset or set it to custom")
    workers = read_topology_file(find_topology_file(spec, base_dir))
    return {**data, "network": {**{k: v for k, v in net.items() if k != "topology"},
                                "preset": "custom", "workers": workers}}
