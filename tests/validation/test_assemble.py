from dataclasses import dataclass, field

import pytest

from dist_llm_train.errors import PreconditionError
from dist_llm_train.validation.assemble import assemble_report, target_from_specs
from dist_llm_train.validation.results import load_results


@dataclass
class SuiteSpec:
    name: str
    checks: list
    description: str = ""
    variants: dict = field(default_factory=dict)
    variant_checks: dict = field(default_factory=dict)


CHECKS = [{"item": "perplexity_within", "threshold": 0.10}, {"item": "no_divergence"},
          {"item": "acceptance_above", "threshold": 0.80},
          {"item": "byzantine_filtered", "threshold": 1.0, "max_false_positive_rate": 0.05},
          {"item": "samples_to_target_within", "threshold": 0.6, "target_loss": 3.5}]


def test_assemble_writes_report_plots_and_results(tmp_path, baseline, experimental):
    variant = experimental.from_json(experimental.to_json())
    variant.name = "diloco"
    out = assemble_report(SuiteSpec("gpt2", CHECKS, "causal LM"), "quick", tmp_path,
                          {"baseline": baseline, "experimental": experimental, "diloco": variant},
                          date="2025-11-19", machine="m")
    assert out["passed"] is False  # detection rate 0.8 < 1.0
    assert [c["passed"] for c in out["checklist"]] == [True, True, True, False, True, True]
    text = (tmp_path / "report.md").read_text()
    assert "## Variants" in text and "| diloco |" in text
    assert "Target loss 3.5000 (given by the suite)" in text
    data = load_results(out["results"])
    assert data["checklist"] == out["checklist"]
    assert data["plots"]["staleness"] == "staleness.png"
    assert set(data["extra"]["variants"]) == {"diloco"}
    assert data["comparison"]["target_loss"] == 3.5
    for p in out["plots"].values():
        assert (tmp_path / p.split("/")[-1]).is_file()


def test_assemble_needs_both_runs(tmp_path, baseline):
    with pytest.raises(PreconditionError, match="needs a 'experimental' run"):
        assemble_report(SuiteSpec("gpt2", CHECKS), "quick", tmp_path, {"baseline": baseline}, date="d")


def test_target_from_specs():
    assert target_from_specs(CHECKS) == (3.5, 0.02)
    assert target_from_specs([{"item": "steps_to_target_within", "margin": 0.05}]) == (None, 0.05)
    assert target_from_specs([]) == (None, 0.02)


def test_variant_targets_are_reported_as_checklist_items(tmp_path, baseline, experimental):
    variant = experimental.from_json(experimental.to_json())
    variant.name = "diloco"
    targets = {"diloco": [{"item": "uplink_reduction_at_quality", "threshold": 10.0, "max_perplexity_change": 0.10},
                          {"item": "uplink_reduction_at_quality", "threshold": 400.0, "max_perplexity_change": 0.05}]}
    out = assemble_report(SuiteSpec("gpt2", CHECKS, "causal LM", variant_checks=targets), "quick", tmp_path,
                          {"baseline": baseline, "experimental": experimental, "diloco": variant},
                          date="2025-11-19", machine="m")
    text = (tmp_path / "report.md").read_text()
    assert "## Variant targets" in text
    assert "| diloco | Uplink reduction >= 10x at perplexity within 10% of baseline | 20x | >= 10 | PASS |" in text
    assert "| diloco | Uplink reduction >= 400x at perplexity within 5% of baseline | 20x | >= 400 | FAIL |" in text
    data = load_results(out["results"])
    assert [t["passed"] for t in data["extra"]["variants"]["diloco"]["targets"]] == [True, False]
    assert [c["passed"] for c in out["checklist"]] == [True, True, True, False, True, True]  # unchanged
