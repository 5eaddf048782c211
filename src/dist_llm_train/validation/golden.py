"""Golden results: the final metrics of a suite's runs, stored in the repository, so that a change
that makes training converge worse (not only one that crashes) fails CI.

`dist-llm-train validate gpt2 --preset ci --update-golden` refreshes the file on purpose;
`--check-golden` (and the CI test) compare a fresh run against it within stated tolerances.
"""

from __future__ import annotations

import json
from pathlib import Path

from dist_llm_train.controller.run_result import RunResult

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "golden"

# metric -> (kind, tolerance): "rel" = relative difference, "abs" = absolute difference
TOLERANCES = {
    "final_loss": ("rel", 0.03),
    "acceptance_rate": ("abs", 0.05),
    "bytes_up": ("rel", 0.05),
    "bytes_down": ("rel", 0.05),
    "server_steps": ("abs", 0),
    "detection_rate": ("abs", 0.10),
    "false_positive_rate": ("abs", 0.05),
    # share of accepted updates at staleness >= 1: the cut must stay asynchronous, not only converge
    "stale_accepted_share": ("abs", 0.10),
}


def golden_path(suite: str, preset: str) -> Path:
    return GOLDEN_DIR / f"{suite}-{preset}.json"


def metrics_of(r: RunResult) -> dict:
    from dist_llm_train.validation.figures import stale_accepted_share

    flt = r.summary["filtering"]
    return {
        "final_loss": r.final.get("loss"),
        "acceptance_rate": r.summary["acceptance_rate"],
        "bytes_up": r.summary["bytes_up"],
        "bytes_down": r.summary["bytes_down"],
        "server_steps": r.server_steps,
        "detection_rate": flt["detection_rate"],
        "false_positive_rate": flt["false_positive_rate"],
        "stale_accepted_share": stale_accepted_share(r),
    }


def write_golden(suite: str, preset: str, results: dict[str, RunResult], date: str, machine: str) -> Path:
    path = golden_path(suite, preset)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"suite": suite, "preset": preset, "date": date, "machine": machine, "tolerances": TOLERANCES,
            "runs": {label: metrics_of(r) for label, r in results.items()}}
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    return path


def compare_golden(suite: str, preset: str, results: dict[str, RunResult]) -> list[str]:
    """Differences beyond tolerance, one sentence each (empty when everything holds)."""
    path = golden_path(suite, preset)
    if not path.is_file():
        return [f"no golden file {path}; create it with `dist-llm-train validate {suite} --preset {preset} "
                "--update-golden`"]
    golden = json.loads(path.read_text())
    problems = []
    for label, expected in golden["runs"].items():
        if label not in results:
            problems.append(f"run {label!r} is in the golden file but was not run")
            continue
        got = metrics_of(results[label])
        for key in got:
            if key not in expected:
                problems.append(f"{label}.{key} is not in the golden file: refresh it with `dist-llm-train validate "
                                f"{suite} --preset {preset} --update-golden`")
        for key, want in expected.items():
            have = got.get(key)
            kind, tol = TOLERANCES[key]
            if want is None or have is None:
                if want != have:
                    problems.append(f"{label}.{key}: golden {want}, measured {have}")
                continue
            diff = abs(have - want) / abs(want) if kind == "rel" and want else abs(have - want)
            if diff > tol:
                problems.append(f"{label}.{key}: golden {want:.6g}, measured {have:.6g} "
                                f"({'relative' if kind == 'rel' else 'absolute'} difference {diff:.3g} > {tol})")
    return problems
