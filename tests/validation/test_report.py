import re

from dist_llm_train.validation import figures as fig
from dist_llm_train.validation.checklist import evaluate_checklist
from dist_llm_train.validation.plots import write_plots
from dist_llm_train.validation.report import machine_description, render_report, write_report
from dist_llm_train.validation.report_tables import Table

SPECS = [{"item": "perplexity_within", "threshold": 0.10}, {"item": "uplink_reduction_above", "threshold": 30.0}]


def _section(text: str, title: str) -> str:
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert m, f"no section {title!r}"
    return m.group(1)


def test_report_has_every_section_with_measured_numbers(tmp_path, baseline, experimental):
    items = evaluate_checklist(SPECS, baseline, experimental)
    plots = write_plots(tmp_path, baseline, experimental)
    path = write_report(tmp_path, "gpt2", "quick", baseline, experimental, items, "2025-11-19", "test machine",
                        plots=plots, description="causal LM")
    text = path.read_text()
    assert path == tmp_path / "report.md"
    assert text.startswith("# Validation report: gpt2 (quick)\n\nDate: 2025-11-19. Machine: test machine.")
    assert "**Checklist: 1 of 2 items pass.**" in text
    checklist = _section(text, "Checklist")
    assert "| 1 | Final perplexity within 10% of baseline | +5.1% | <= +10.0% | PASS |" in checklist
    assert ("| 2 | Uplink bandwidth reduction > 30x (baseline / experimental bytes up) | 20x | > 30x | FAIL |"
            in checklist)
    assert "| perplexity | 20.09 | 21.12 | +5.1% |" in _section(text, "Convergence quality")
    speed = _section(text, "Convergence speed")
    assert "Target loss 3.0600" in speed and "| server steps | 9.7 | 23.73 | 2.45x |" in speed
    bw = _section(text, "Bandwidth")
    assert "| bytes up (worker -> server), total | 160.0 KB | 8.0 KB | 20x |" in bw
    assert "| bytes up + down, total | 320.0 KB | 88.0 KB | 3.64x |" in bw
    acc = _section(text, "Gradient acceptance")
    assert "experimental 82.5% (33 of 40)" in acc and "| edge | 1 | 5 | 1 | 20.0% |" in acc
    assert "| us-3 | us | yes | 5 | 5 | 100.0% | - | 0 | 0 |" in acc
    assert "| experimental | all | 40 | 1 | 9 | 12 |" in _section(text, "Staleness distribution")
    assert "| experimental | us-3 | 4 | 5 | 80.0% | 1 | 28 | 3.6% |" in _section(text, "Byzantine filtering")
    assert "| experimental | 35.4% | 19.4% | 50.0% |" in _section(text, "Worker utilization")
    for p in plots.values():
        assert f"]({p.name})" in _section(text, "Plots")


def test_mlm_report_shows_accuracy(tmp_path, baseline, experimental):
    for r, acc in ((baseline, 0.60), (experimental, 0.57)):
        r.final["mlm_accuracy"], r.final["perplexity"] = acc, None
        r.kind = "mlm"
    text = render_report("bert-mlm", "quick", baseline, experimental, [], "d", "m")
    quality = _section(text, "Convergence quality")
    assert "| MLM accuracy | 60.0% | 57.0% | -5.0% |" in quality and "perplexity" not in quality


def test_extra_tables_and_sections(tmp_path, baseline, experimental):
    scaling = Table("Scaling", ["workers", "virtual time to target (s)", "speed-up", "efficiency"],
                    [[1, 1000.0, 1.0, 1.0], [4, 300.0, 3.333, 0.8333]])
    text = render_report("scaling", "quick", baseline, experimental, [], "d", "m", extra_tables=[scaling],
                         extra_sections=[("Notes", "Measured on a shared machine.")])
    assert "| 4 | 300 | 3.333 | 0.8333 |" in _section(text, "Scaling")
    assert _section(text, "Notes").strip() == "Measured on a shared machine."


def test_diverged_baseline_still_gives_a_report(baseline, experimental):
    baseline.final["loss"] = float("nan")
    text = render_report("gpt2", "quick", baseline, experimental, [], "d", "m")
    assert "no finite final loss" in _section(text, "Convergence speed")
    assert fig.compare(baseline, experimental)["target_loss"] is None


def test_machine_description_names_cores_and_torch():
    import torch

    d = machine_description()
    assert "CPU cores" in d and torch.__version__ in d
