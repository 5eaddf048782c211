"""results.json: every figure of a validation run as data, for scripts, CI and golden-result checks.

The same figures as report.md (both from validation.figures), plus the checklist items with their
measured values and thresholds. Non-finite numbers (a diverged loss) are written as null so that
the file is strict JSON that any parser reads; the checklist's detail text says what was non-finite.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from dist_llm_train.controller.run_result import RunResult
from dist_llm_train.errors import DecodeError, ResourceNotFoundError
from dist_llm_train.validation import figures as fig
from dist_llm_train.validation.checklist import ChecklistItem
from dist_llm_train.validation.report_tables import Table

SCHEMA_VERSION = 1
REQUIRED_KEYS = ("schema_version", "suite", "preset", "runs", "comparison", "workers", "checklist", "passed")


def _clean(x):
    """Replace non-finite floats by None, recursively; tuples become lists and keys strings."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, Mapping):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if isinstance(x, Path):
        return str(x)
    return x


def results_dict(suite: str, preset: str, baseline: RunResult, experimental: RunResult,
                 checklist: Sequence[ChecklistItem], extra_tables: Sequence[Table] = (), date: str | None = None,
                 machine: str | None = None, plots: Mapping[str, Path] | None = None, target_loss: float | None = None,
                 margin: float = 0.02, extra: Mapping | None = None) -> dict:
    return _clean({
        "schema_version": SCHEMA_VERSION,
        "suite": suite,
        "preset": preset,
        "date": date,
        "machine": machine,
        "runs": {"baseline": fig.run_figures(baseline), "experimental": fig.run_figures(experimental)},
        "comparison": fig.compare(baseline, experimental, target_loss, margin),
        "region_acceptance": {"baseline": fig.region_acceptance(baseline),
                              "experimental": fig.region_acceptance(experimental)},
        "workers": {"baseline": fig.worker_table(baseline), "experimental": fig.worker_table(experimental)},
        "run_dirs": {"baseline": baseline.run_dir, "experimental": experimental.run_dir},
        "checklist": [it.to_json() for it in checklist],
        "passed": bool(checklist) and all(it.passed for it in checklist),
        "extra_tables": [t.to_json() for t in extra_tables],
        "plots": dict(plots or {}),
        "extra": dict(extra or {}),
    })


def write_results_json(path: str | Path, suite: str, preset: str, baseline: RunResult, experimental: RunResult,
                       checklist: Sequence[ChecklistItem], extra_tables: Sequence[Table] = (), **kwargs) -> Path:
    """Write results.json (keyword arguments: date, machine, plots, target_loss, margin, extra)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = results_dict(suite, preset, baseline, experimental, checklist, extra_tables, **kwargs)
    path.write_text(json.dumps(data, indent=1, allow_nan=False))
    return path


def load_results(path: str | Path) -> dict:
    """Read a results.json written by write_results_json, checking that it is one."""
    path = Path(path)
    if not path.is_file():
        raise ResourceNotFoundError(f"no results file at {path}; run `dist-llm-train validate SUITE --out DIR` first")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DecodeError(f"{path} is not valid JSON ({exc}); rerun the validation to rewrite it") from exc
    if not isinstance(data, dict):
        raise DecodeError(f"{path} holds a {type(data).__name__}, not a results object")
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise DecodeError(f"{path} lacks {', '.join(missing)}: not a results.json of `dist-llm-train validate`")
    if data["schema_version"] != SCHEMA_VERSION:
        raise DecodeError(f"{path} has schema version {data['schema_version']}, this version reads "
                          f"{SCHEMA_VERSION}; rerun the validation to rewrite it")
    return data


def checklist_from_results(data: Mapping) -> list[ChecklistItem]:
    """The checklist items of a loaded results.json, as objects."""
    return [ChecklistItem.from_json(d) for d in data["checklist"]]
