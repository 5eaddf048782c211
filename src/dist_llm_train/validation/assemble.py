"""From finished runs to a validation directory: checklist, plots, report.md and results.json.

This is the one call a suite runner makes once its runs are done. Extra runs beyond the baseline and
the experimental one (a suite's variants, e.g. DiLoCo) are scored with the same checklist against
the same baseline and summarised in a table; they inform, but only the experimental run's checklist
decides whether the validation passed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dist_llm_train.controller.run_result import RunResult
from dist_llm_train.errors import PreconditionError
from dist_llm_train.validation import figures as fig
from dist_llm_train.validation.checklist import all_passed, evaluate_checklist, needs_runs
from dist_llm_train.validation.plots import write_plots
from dist_llm_train.validation.report import machine_description, write_report
from dist_llm_train.validation.report_tables import Table, fmt_factor, fmt_measured, fmt_num, fmt_pct
from dist_llm_train.validation.results import write_results_json


def target_from_specs(specs: Sequence[Mapping[str, Any]]) -> tuple[float | None, float]:
    """The (target_loss, margin) the checklist's to-target items use, so the report times the same
    target (the first such item decides; defaults: the baseline's final loss + 2%)."""
    for spec in specs:
        if str(spec.get("item", "")).endswith("_to_target_within"):
            return spec.get("target_loss"), float(spec.get("margin", 0.02))
    return None, 0.02


#: runs that a checklist item compares the experimental run with; they are not variants
REFERENCE_RUNS = ("sync-reference",)


def variants_table(baseline: RunResult, variants: Mapping[str, RunResult], specs) -> tuple[Table, dict]:
    rows, data = [], {}
    # an item measured against a reference run of the experimental configuration says nothing of a variant
    specs = [s for s in specs if not needs_runs(s)]
    for label, run in variants.items():
        items = evaluate_checklist(specs, baseline, run)
        cmp = fig.compare(baseline, run, *target_from_specs(specs))
        figs = fig.run_figures(run)
        data[label] = {"figures": figs, "comparison": cmp, "checklist": [it.to_json() for it in items]}
        rows.append([label, fmt_num(figs["final_loss"]), fmt_pct(cmp["loss_change"], signed=True),
                     fmt_factor(cmp["uplink_reduction"]), fmt_pct(figs["acceptance_rate"]),
                     f"{sum(it.passed for it in items)} of {len(items)}"])
    table = Table("Variants", ["variant", "final loss", "loss vs baseline", "uplink reduction", "acceptance",
                               "checklist items passed"], rows,
                  "Further experimental configurations scored with the same checklist against the same baseline.",
                  align=["l", "r", "r", "r", "r", "r"])
    return table, data


def references_table(references: Mapping[str, RunResult]) -> Table:
    rows = []
    for label, run in references.items():
        figs = fig.run_figures(run)
        rows.append([label, figs["mode"], figs["num_workers"], figs["server_steps"], fmt_num(figs["final_loss"]),
                     fmt_num(figs["virtual_time"]), run.stopped_by])
    return Table("Reference runs", ["run", "mode", "workers", "server steps", "final loss", "virtual time (s)",
                                    "stopped by"], rows,
                 "The experimental configuration made synchronous on the same heterogeneous workers, for \"faster "
                 "with async\"; it stops once it reaches the target loss.", align=["l", "l", "r", "r", "r", "r", "l"])


def variant_targets_table(baseline: RunResult, variants: Mapping[str, RunResult],
                          variant_checks: Mapping[str, Sequence[Mapping[str, Any]]]) -> tuple[Table, dict]:
    """Each variant's own targets (e.g. DiLoCo's reduction at a perplexity bound) as checklist items."""
    rows, data = [], {}
    for label, run in variants.items():
        specs = list(variant_checks.get(label, ()))
        if not specs:
            continue
        items = evaluate_checklist(specs, baseline, run)
        data[label] = [it.to_json() for it in items]
        for it in items:
            rows.append([label, it.name, fmt_measured(it.measured, it.unit), f"{it.comparison} {it.threshold:g}",
                         "PASS" if it.passed else "FAIL", it.detail])
    table = Table("Variant targets", ["variant", "item", "measured", "threshold", "result", "how"], rows,
                  "Targets of the variants themselves, measured against the same baseline; they inform and do "
                  "not change the exit code.", align=["l", "l", "r", "r", "c", "l"])
    return table, data


def assemble_report(suite, preset: str, out: str | Path, results: Mapping[str, RunResult], date: str,
                    machine: str | None = None, extra_tables: Sequence[Table] = (),
                    extra_sections: Sequence[tuple[str, str]] = ()) -> dict:
    """Write the checklist, plots, report.md and results.json for `results` into `out`.

    suite: any object with .name, .checks (checklist specs) and optionally .description.
    results: label -> RunResult with at least "baseline" and "experimental".
    Returns {"out", "report", "results", "plots", "checklist" (item dicts), "passed"}.
    """
    for key in ("baseline", "experimental"):
        if key not in results:
            raise PreconditionError(f"assemble_report needs a {key!r} run; got runs {', '.join(results) or 'none'}")
    out = Path(out)
    base, exp = results["baseline"], results["experimental"]
    specs = list(suite.checks)
    machine = machine or machine_description()
    references = {k: results[k] for k in REFERENCE_RUNS if k in results}
    extra: dict = {}
    items = evaluate_checklist(specs, base, exp, references)
    target_loss, margin = target_from_specs(specs)
    target = fig.compare(base, exp, target_loss, margin)["target_loss"]
    plots = write_plots(out, base, exp, target)
    tables = list(extra_tables)
    others = {k: v for k, v in results.items() if k not in ("baseline", "experimental", *REFERENCE_RUNS)}
    if references:
        tables.append(references_table(references))
        extra["references"] = {k: fig.run_figures(v) for k, v in references.items()}
    if others:
        table, extra["variants"] = variants_table(base, others, specs)
        tables.append(table)
        checks = getattr(suite, "variant_checks", None) or {}
        if any(checks.get(k) for k in others):
            targets, per_variant = variant_targets_table(base, others, checks)
            tables.append(targets)
            for label, target_items in per_variant.items():
                extra["variants"][label]["targets"] = target_items
    report = write_report(out, suite.name, preset, base, exp, items, date, machine, extra_sections, tables, plots,
                          getattr(suite, "description", ""), target_loss, margin)
    res = write_results_json(out / "results.json", suite.name, preset, base, exp, items, tables, date=date,
                             machine=machine, plots={k: p.name for k, p in plots.items()}, target_loss=target_loss,
                             margin=margin, extra=extra)
    return {"out": str(out), "report": str(report), "results": str(res),
            "plots": {k: str(p) for k, p in plots.items()}, "checklist": [it.to_json() for it in items],
            "passed": all_passed(items)}
