"""The convergence regression check: rerun the `gpt2` suite's `ci` cut (a short deterministic version
of the quick preset) and compare its final metrics with the golden results stored in the repository.

A change that makes training converge worse, compress less, accept fewer updates or filter the
Byzantine worker less well fails here, not only one that crashes. Refresh the golden file on purpose
with `dist-llm-train validate gpt2 --preset ci --update-golden` and commit it.
"""

from __future__ import annotations

import json

from dist_llm_train.validation import golden
from dist_llm_train.validation.runner import run_suite


def test_gpt2_ci_cut_matches_golden_results(tmp_path):
    path = golden.golden_path("gpt2", "ci")
    assert path.is_file(), f"missing {path}"
    stored = json.loads(path.read_text())
    assert set(stored["runs"]) == {"baseline", "experimental"}
    summary = run_suite("gpt2", "ci", tmp_path, golden="check", log=lambda _: None)
    assert summary["golden_problems"] == [], "\n".join(summary["golden_problems"])


def test_compare_golden_flags_a_worse_loss(tmp_path):
    """The comparison itself can fail: a loss 10% above the stored one is reported."""
    from dist_llm_train.controller.run_result import RunResult

    stored = json.loads(golden.golden_path("gpt2", "ci").read_text())
    base = stored["runs"]["baseline"]
    fake_final = {"loss": base["final_loss"] * 1.10}
    r = RunResult(name="b", run_dir=None, config={}, kind="causal", model="m", num_params=1, num_workers=1,
                  worker_names=[], worker_regions=[], byzantine_ids=[], server_steps=base["server_steps"],
                  virtual_time=1.0, wall_time=1.0, stopped_by="max_server_steps", curve=[], final=fake_final,
                  summary={"acceptance_rate": base["acceptance_rate"], "bytes_up": base["bytes_up"],
                           "bytes_down": base["bytes_down"],
                           "filtering": {"detection_rate": base["detection_rate"],
                                         "false_positive_rate": base["false_positive_rate"]}},
                  utilization=[], wall_breakdown={})
    problems = golden.compare_golden("gpt2", "ci", {"baseline": r})
    assert any("baseline.final_loss" in p for p in problems)
    assert any("experimental" in p for p in problems)
