import json

import pytest

from dist_llm_train.errors import DecodeError, ResourceNotFoundError
from dist_llm_train.validation.checklist import evaluate_checklist
from dist_llm_train.validation.report_tables import Table
from dist_llm_train.validation.results import checklist_from_results, load_results, write_results_json

SPECS = [{"item": "perplexity_within", "threshold": 0.10}, {"item": "no_divergence"},
         {"item": "uplink_reduction_above", "threshold": 10.0}]


def test_results_round_trip_with_every_figure(tmp_path, baseline, experimental):
    items = evaluate_checklist(SPECS, baseline, experimental)
    table = Table("Scaling", ["workers", "speed-up"], [[1, 1.0], [4, 3.1]])
    path = write_results_json(tmp_path / "results.json", "gpt2", "quick", baseline, experimental, items, [table],
                              date="2025-11-19", machine="m")
    data = load_results(path)
    assert data["suite"] == "gpt2" and data["preset"] == "quick" and data["passed"] is True
    assert data["runs"]["baseline"]["final_loss"] == 3.0 and data["runs"]["experimental"]["final_loss"] == 3.05
    assert data["comparison"]["uplink_reduction"] == pytest.approx(20.0)
    assert data["comparison"]["baseline_to_target"]["samples"] == pytest.approx(310.4)
    assert data["runs"]["experimental"]["filtering"]["true_positives"] == 4
    assert data["workers"]["experimental"][2]["acceptance_rate"] == pytest.approx(0.2)
    assert data["region_acceptance"]["experimental"]["edge"]["accepted"] == 1
    assert data["extra_tables"][0]["rows"] == [[1, 1.0], [4, 3.1]]
    assert [c["name"] for c in data["checklist"]] == [i.name for i in items]
    assert checklist_from_results(data) == items


def test_non_finite_numbers_become_null_so_the_file_is_strict_json(tmp_path, baseline, experimental):
    experimental.final["loss"] = float("nan")
    experimental.final["perplexity"] = float("inf")
    items = evaluate_checklist(SPECS, baseline, experimental)
    path = write_results_json(tmp_path / "r.json", "gpt2", "quick", baseline, experimental, items)
    data = json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert data["runs"]["experimental"]["final_loss"] is None
    assert data["passed"] is False
    assert [c["passed"] for c in data["checklist"]] == [False, False, True]


def test_load_results_errors(tmp_path):
    with pytest.raises(ResourceNotFoundError, match="no results file"):
        load_results(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DecodeError, match="not valid JSON"):
        load_results(bad)
    bad.write_text(json.dumps({"suite": "gpt2"}))
    with pytest.raises(DecodeError, match="lacks schema_version"):
        load_results(bad)
