"""Load a RunConfig from YAML, a dict, or a preset, with `key=value` overrides.

Errors are rewritten for people: the dotted key, what was given, what is allowed, and a
"did you mean" for a misspelt key. Pydantic's own messages are kept as the reason.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from dist_llm_train.config.cross_checks import CrossCheckError
from dist_llm_train.config.schema import RunConfig
from dist_llm_train.config.topology_file import expand_topology
from dist_llm_train.errors import ConfigError

PRESET_DIR = Path(__file__).resolve().parent.parent / "presets"


def load_config(
    source: str | Path | Mapping[str, Any] | RunConfig | None = None,
    overrides: Iterable[str] | Mapping[str, Any] | None = None,
) -> RunConfig:
    """Build a validated RunConfig.

    `source` is a YAML path, the name of a built-in preset, a dict, or a RunConfig (copied).
    `overrides` are `section.key=value` strings (values parsed as YAML) or a dict of dotted keys.
    """
    base_dir: Path | None = None  # where relative file names in the config (network.topology) start
    if isinstance(source, RunConfig):
        data: dict[str, Any] = source.model_dump(mode="json")
        where = "RunConfig"
    elif isinstance(source, Mapping):
        data = copy.deepcopy(dict(source))
        where = "config dict"
    elif source is None:
        data, where = {}, "defaults"
    else:
        path = resolve_config_path(source)
        data, where = read_yaml(path), str(path)
        base_dir = path.parent
    for key, value in _parse_overrides(overrides):
        _set_dotted(data, key, value)
    return validate_dict(data, where, base_dir=base_dir)


def resolve_config_path(source: str | Path) -> Path:
    path = Path(source)
    if path.is_file():
        return path
    preset = PRESET_DIR / f"{source}.yaml"
    if preset.is_file():
        return preset
    presets = sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))
    raise ConfigError(
        f"config file {str(source)!r} not found; give a path to a YAML file or a built-in preset "
        f"({', '.join(presets) or 'none installed'})"
    )


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections, got {type(data).__name__}")
    return data


def validate_dict(data: Mapping[str, Any], where: str = "config", base_dir: Path | None = None) -> RunConfig:
    """Validate a raw config dict; `network.topology` files are read first (relative to `base_dir`)."""
    try:
        data = expand_topology(dict(data), base_dir)
    except ConfigError as exc:
        raise ConfigError(f"invalid configuration ({where}):\n  - {exc}") from None
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, where)) from None


def _parse_overrides(overrides) -> list[tuple[str, Any]]:
    if not overrides:
        return []
    if isinstance(overrides, Mapping):
        return list(overrides.items())
    out = []
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key=value, e.g. sync.max_staleness=20")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        out.append((key.strip(), value))
    return out


# Short names a user may write in --set for the most used keys.
ALIASES = {
    "model": "model.name",
    "corpus": "data.corpus",
    "codec": "compression.codec",
    "rule": "aggregation.rule",
    "workers": "network.num_workers",
    "steps": "max_server_steps",
    "attack": "byzantine.attack",
}


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    key = ALIASES.get(key, key)
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        if not isinstance(nxt, dict):
            raise ConfigError(f"override {key!r}: {part!r} is a value, not a section")
        node = nxt
    node[parts[-1]] = value


def _model_at(path: tuple) -> type[BaseModel] | None:
    """The pydantic model class that owns the field at `path` (for listing allowed keys)."""
    model: Any = RunConfig
    for part in path:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if field is None:
            return None
        ann = field.annotation
        model = _unwrap_model(ann)
        if model is None:
            return None
    return model


def _unwrap_model(ann: Any) -> type[BaseModel] | None:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in getattr(ann, "__args__", ()) or ():
        found = _unwrap_model(arg)
        if found is not None:
            return found
    return None


def format_validation_error(exc: ValidationError, where: str) -> str:
    lines = [f"invalid configuration ({where}):"]
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        # pydantic adds the validator's tag for unions ("list[LinkConfig]"), drop it
        loc = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p.endswith("-after"))))
        key = ".".join(str(p) for p in loc) or "(top level)"
        etype = err.get("type", "")
        if etype == "extra_forbidden":
            parent = _model_at(loc[:-1])
            allowed = sorted(parent.model_fields) if parent else []
            bad = str(loc[-1])
            hint = difflib.get_close_matches(bad, allowed, n=1)
            msg = f"  - {key}: unknown key"
            if hint:
                msg += f" (did you mean {'.'.join([*map(str, loc[:-1]), hint[0]])!r}?)"
            if allowed:
                msg += f"; allowed keys here: {', '.join(allowed)}"
            lines.append(msg)
            continue
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, CrossCheckError):  # cross-section checks name their own keys
            lines.extend(f"  - {k}: {m}" for k, m in cause.problems)
            continue
        given = err.get("input")
        reason = err.get("msg", "invalid value")
        reason = reason.removeprefix("Value error, ")
        given_s = "" if isinstance(given, dict) else f" (got {given!r})"
        lines.append(f"  - {key}: {reason}{given_s}")
    return "\n".join(lines)
