"""report.md: the validation report a person reads, built from the two RunResults and the checklist.

Every number in it comes from validation.figures (the same functions results.json and the checklist
use); nothing is typed in. docs/validation_report.md explains each section.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from pathlib import Path

from dist_llm_train.controller.run_result import RunResult
from dist_llm_train.validation import figures as fig
from dist_llm_train.validation.checklist import ChecklistItem
from dist_llm_train.validation.report_tables import (
    Table,
    fmt_bytes,
    fmt_factor,
    fmt_measured,
    fmt_num,
    fmt_pct,
    fmt_seconds,
    markdown_table,
)


def machine_description() -> str:
    """CPU cores, architecture, torch and Python versions of this machine."""
    import torch

    return (f"{os.cpu_count()} CPU cores, {platform.machine()}, torch {torch.__version__}, "
            f"Python {platform.python_version()}")


def _sync_text(cfg: dict) -> str:
    s = cfg.get("sync", {})
    if s.get("mode") == "sync":
        return "synchronous"
    bound = f"staleness <= {s.get('max_staleness')}"
    if s.get("adaptive_staleness"):
        bound = f"adaptive staleness ({s.get('max_staleness')} + {s.get('adaptive_multiplier')} x slowness)"
    return f"async, buffer {s.get('buffer_size') or 1}, {bound}"


def _compression_text(cfg: dict) -> str:
    c = cfg.get("compression", {})
    text = str(c.get("codec", "none"))
    if text != "none" and c.get("error_feedback"):
        text += " + error feedback"
    if c.get("downlink", "none") != "none":
        text += f"; downlink {c['downlink']}"
    return text


def runs_section(baseline: RunResult, experimental: RunResult) -> str:
    b, e = fig.run_figures(baseline), fig.run_figures(experimental)

    def byz(r: RunResult) -> str:
        return ", ".join(r.worker_names[i] for i in r.byzantine_ids) or "none"

    rows = [
        ["name", baseline.name, experimental.name],
        ["model", f"{b['model']} ({b['kind']}, {b['num_params']:,} parameters)",
         f"{e['model']} ({e['kind']}, {e['num_params']:,} parameters)"],
        ["workers", b["num_workers"], e["num_workers"]],
        ["regions", ", ".join(sorted(set(baseline.worker_regions))),
         ", ".join(sorted(set(experimental.worker_regions)))],
        ["Byzantine workers", byz(baseline), byz(experimental)],
        ["synchronisation", _sync_text(baseline.config), _sync_text(experimental.config)],
        ["compression", _compression_text(baseline.config), _compression_text(experimental.config)],
        ["aggregation", f"{b['aggregation']} (f={b['aggregation_f']})", f"{e['aggregation']} (f={e['aggregation_f']})"],
        ["stopped by", b["stopped_by"], e["stopped_by"]],
        ["server steps", b["server_steps"], e["server_steps"]],
        ["samples processed", b["samples_processed"], e["samples_processed"]],
        ["samples in applied updates", b["samples"], e["samples"]],
        ["virtual time", fmt_seconds(b["virtual_time"]), fmt_seconds(e["virtual_time"])],
        ["wall time", fmt_seconds(b["wall_time"]), fmt_seconds(e["wall_time"])],
    ]
    return "## Runs\n\n" + markdown_table(["", "baseline", "experimental"], rows, ["l", "l", "l"])


def quality_section(baseline: RunResult, experimental: RunResult) -> str:
    b, e = fig.run_figures(baseline), fig.run_figures(experimental)
    rows = [["final validation loss", fmt_num(b["final_loss"]), fmt_num(e["final_loss"]),
             fmt_pct(fig.relative_change(e["final_loss"], b["final_loss"]), signed=True)]]
    if b["final_perplexity"] is not None or e["final_perplexity"] is not None:
        rows.append(["perplexity", fmt_num(b["final_perplexity"]), fmt_num(e["final_perplexity"]),
                     fmt_pct(fig.relative_change(e["final_perplexity"], b["final_perplexity"]), signed=True)])
    if b["final_mlm_accuracy"] is not None or e["final_mlm_accuracy"] is not None:
        rows.append(["MLM accuracy", fmt_pct(b["final_mlm_accuracy"]), fmt_pct(e["final_mlm_accuracy"]),
                     fmt_pct(fig.relative_change(e["final_mlm_accuracy"], b["final_mlm_accuracy"]), signed=True)])
    rows.append(["loss before training", fmt_num(b["initial_loss"]), fmt_num(e["initial_loss"]), ""])
    rows.append(["training loss (running mean)", fmt_num(b["final_train_loss"]), fmt_num(e["final_train_loss"]),
                 fmt_pct(fig.relative_change(e["final_train_loss"], b["final_train_loss"]), signed=True)])
    return ("## Convergence quality\n\n"
            + markdown_table(["metric", "baseline", "experimental", "difference to baseline"], rows,
                             ["l", "r", "r", "r"])
            + "\nDifference = experimental / baseline - 1, on the held-out evaluation after the last step.\n")


def speed_section(cmp: dict) -> str:
    if cmp["target_loss"] is None:
        return "## Convergence speed\n\nThe baseline has no finite final loss, so there is no target to time.\n"
    how = (f"the baseline's final loss x (1 + {cmp['target_margin']:g})" if cmp["target_margin"] is not None
           else "given by the suite")
    tb, te, r = cmp["baseline_to_target"], cmp["experimental_to_target"], cmp["to_target_ratio"]

    def cell(v, f):
        return "not reached" if v is None else f(v)

    rows = [
        ["server steps", cell(tb["step"], fmt_num), cell(te["step"], fmt_num), fmt_factor(r["step"])],
        [f"samples ({cmp['sample_axis']})", cell(tb["samples"], fmt_num), cell(te["samples"], fmt_num),
         fmt_factor(r["samples"])],
        ["virtual time", cell(tb["virtual_time"], fmt_seconds), cell(te["virtual_time"], fmt_seconds),
         fmt_factor(r["virtual_time"])],
        ["bytes sent (up + down)", cell(tb["bytes"], fmt_bytes), cell(te["bytes"], fmt_bytes),
         fmt_factor(r["bytes"])],
    ]
    return (f"## Convergence speed\n\nTarget loss {cmp['target_loss']:.4f} ({how}). Each figure is where the "
            "validation loss first reaches the target, interpolated linearly between evaluations.\n\n"
            + markdown_table(["to the target", "baseline", "experimental", "experimental / baseline"], rows,
                             ["l", "r", "r", "r"]))


def bandwidth_section(baseline: RunResult, experimental: RunResult, cmp: dict) -> str:
    b, e = fig.run_figures(baseline), fig.run_figures(experimental)
    rows = [
        ["bytes up (worker -> server), total", fmt_bytes(b["bytes_up"]), fmt_bytes(e["bytes_up"]),
         fmt_factor(cmp["uplink_reduction"])],
        ["bytes down (server -> worker), total", fmt_bytes(b["bytes_down"]), fmt_bytes(e["bytes_down"]),
         fmt_factor(cmp["downlink_reduction"])],
        ["bytes up + down, total", fmt_bytes(b["bytes_total"]), fmt_bytes(e["bytes_total"]),
         fmt_factor(cmp["total_reduction"])],
        ["bytes up per worker (mean)", fmt_bytes(b["bytes_up_per_worker"]), fmt_bytes(e["bytes_up_per_worker"]),
         fmt_factor(fig.ratio(b["bytes_up_per_worker"], e["bytes_up_per_worker"]))],
        ["bytes down per worker (mean)", fmt_bytes(b["bytes_down_per_worker"]),
         fmt_bytes(e["bytes_down_per_worker"]),
         fmt_factor(fig.ratio(b["bytes_down_per_worker"], e["bytes_down_per_worker"]))],
        ["busiest worker, GB per virtual hour", fmt_num(b["max_worker_gb_per_hour"]),
         fmt_num(e["max_worker_gb_per_hour"]), fmt_factor(fig.ratio(b["max_worker_gb_per_hour"],
                                                                     e["max_worker_gb_per_hour"]))],
    ]
    return ("## Bandwidth\n\n"
            + markdown_table(["", "baseline", "experimental", "reduction (baseline / experimental)"], rows,
                             ["l", "r", "r", "r"])
            + "\nBytes are the exact encoded message sizes on the wire. 1 GB = 1e9 bytes.\n")


def workers_section(run: RunResult, label: str) -> str:
    rows = []
    for w in fig.worker_table(run):
        rejected = ", ".join(f"{k} {v}" for k, v in sorted(w["rejected"].items())) or "-"
        rows.append([w["name"], w["region"], "yes" if w["byzantine"] else "", w["submitted"], w["accepted"],
                     fmt_pct(w["acceptance_rate"]), rejected, w["staleness_p50"], w["staleness_max"],
                     fmt_bytes(w["bytes_up"]), fmt_bytes(w["bytes_down"]), fmt_num(w["gb_per_hour"]),
                     fmt_pct(w["utilization"]), fmt_num(w["mean_trust"]), f"{w['filtered']}/{w['aggregations']}"])
    headers = ["worker", "region", "Byzantine", "submitted", "accepted", "acceptance", "rejected (reason)",
               "staleness p50", "staleness max", "bytes up", "bytes down", "GB/h", "utilization", "mean trust",
               "filtered / aggregations"]
    return f"### Per worker ({label})\n\n" + markdown_table(headers, rows, ["l", "l", "l"] + ["r"] * 3 + ["l"]
                                                             + ["r"] * 8)


def acceptance_section(baseline: RunResult, experimental: RunResult) -> str:
    b, e = fig.run_figures(baseline), fig.run_figures(experimental)
    lines = ["## Gradient acceptance\n",
             f"Overall: baseline {fmt_pct(b['acceptance_rate'])} ({b['accepted']} of {b['submitted']}), experimental "
             f"{fmt_pct(e['acceptance_rate'])} ({e['accepted']} of {e['submitted']}).\n"]
    regions = fig.region_acceptance(experimental)
    if len(regions) > 1:
        rows = [[r, v["workers"], v["submitted"], v["accepted"], fmt_pct(v["acceptance_rate"])]
                for r, v in sorted(regions.items())]
        lines.append(markdown_table(["region (experimental)", "workers", "submitted", "accepted", "acceptance"],
                                    rows, ["l", "r", "r", "r", "r"]))
    lines.append(workers_section(experimental, "experimental"))
    return "\n".join(lines)


def staleness_section(baseline: RunResult, experimental: RunResult) -> str:
    rows = []
    for label, run in (("baseline", baseline), ("experimental", experimental)):
        s = fig.staleness_summary(run)
        rows.append([label, "all", s["count"], s["p50"], s["p90"], s["max"], fmt_pct(s["stale_accepted_share"])])
    if len(set(experimental.worker_regions)) > 1:
        for region in sorted(set(experimental.worker_regions)):
            s = fig.staleness_summary(experimental, region)
            rows.append(["experimental", region, s["count"], s["p50"], s["p90"], s["max"], ""])
    hist = fig.accepted_staleness_histogram(experimental)
    spread = ", ".join(f"{tau}: {n}" for tau, n in sorted(hist.items())) or "none"
    return ("## Staleness distribution\n\nStaleness = server steps between the version a worker pulled and the "
            "version its update arrived at, over every update the server received (accepted and rejected); "
            "nearest-rank percentiles. The last column is the share of *accepted* updates that were at least one "
            "step stale: 0% is synchronous training, whatever the mode is called.\n\n"
            + markdown_table(["run", "region", "updates", "p50", "p90", "max", "accepted with staleness >= 1"], rows,
                             ["l", "l", "r", "r", "r", "r", "r"])
            + f"\nAccepted updates of the experimental run by staleness (staleness: count): {spread}.\n")


def filtering_section(baseline: RunResult, experimental: RunResult) -> str:
    rows = []
    for label, run in (("baseline", baseline), ("experimental", experimental)):
        f = run.summary["filtering"]
        rows.append([label, ", ".join(run.worker_names[i] for i in run.byzantine_ids) or "none",
                     f["true_positives"], f["byzantine_inputs"], fmt_pct(f["detection_rate"]), f["false_positives"],
                     f["honest_inputs"], fmt_pct(f["false_positive_rate"])])
    return ("## Byzantine filtering\n\nCounted per aggregation a worker took part in: an input is filtered when the "
            "aggregation rule gave it trust below 0.5; scored against which workers really were Byzantine.\n\n"
            + markdown_table(["run", "Byzantine workers", "true positives", "Byzantine inputs", "detection rate",
                              "false positives", "honest inputs", "false-positive rate"], rows,
                             ["l", "l"] + ["r"] * 6))


def utilization_section(baseline: RunResult, experimental: RunResult) -> str:
    rows = []
    for label, run in (("baseline", baseline), ("experimental", experimental)):
        u = run.utilization
        rows.append([label, fmt_pct(sum(u) / len(u) if u else None), fmt_pct(min(u) if u else None),
                     fmt_pct(max(u) if u else None)])
    return ("## Worker utilization\n\nCompute time / virtual time per worker: the share of the run a worker spent "
            "computing rather than waiting on the network or a barrier.\n\n"
            + markdown_table(["run", "mean", "lowest", "highest"], rows, ["l", "r", "r", "r"]))


def plots_section(plots: dict[str, Path], out_dir: Path) -> str:
    lines = ["## Plots\n"]
    for name, path in plots.items():
        rel = os.path.relpath(Path(path), out_dir)
        lines.append(f"![{name.replace('_', ' ')}]({rel})\n")
    return "\n".join(lines)


def checklist_section(items: Sequence[ChecklistItem]) -> str:
    rows = [[i + 1, it.name, fmt_measured(it.measured, it.unit),
             f"{it.comparison} {fmt_measured(it.threshold, it.unit)}", "PASS" if it.passed else "FAIL"]
            for i, it in enumerate(items)]
    details = "\n".join(f"{i + 1}. {it.detail}" for i, it in enumerate(items))
    return ("## Checklist\n\n" + markdown_table(["#", "item", "measured", "threshold", "result"], rows,
                                                ["r", "l", "r", "r", "c"])
            + "\nHow each was measured:\n\n" + details + "\n")


def render_report(suite: str, preset: str, baseline: RunResult, experimental: RunResult,
                  checklist: Sequence[ChecklistItem], date: str, machine: str, plots: dict[str, Path] | None = None,
                  out_dir: str | Path = ".", description: str = "", target_loss: float | None = None,
                  margin: float = 0.02, extra_tables: Sequence[Table] = (),
                  extra_sections: Sequence[tuple[str, str]] = ()) -> str:
    """The report's Markdown text."""
    cmp = fig.compare(baseline, experimental, target_loss, margin)
    passed = sum(1 for it in checklist if it.passed)
    head = [f"# Validation report: {suite} ({preset})\n", f"Date: {date}. Machine: {machine}.\n"]
    if description:
        head.append(f"Suite: {description}\n")
    head.append(f"**Checklist: {passed} of {len(checklist)} items pass.** The baseline is synchronous, "
                "uncompressed, with identical workers and a plain mean; both runs use the same model, data, seed "
                "and sample budget.\n")
    parts = ["\n".join(head), checklist_section(checklist), runs_section(baseline, experimental),
             quality_section(baseline, experimental), speed_section(cmp),
             bandwidth_section(baseline, experimental, cmp), acceptance_section(baseline, experimental),
             staleness_section(baseline, experimental), filtering_section(baseline, experimental),
             utilization_section(baseline, experimental)]
    parts += [t.to_markdown() for t in extra_tables]
    parts += [f"## {title}\n\n{body.strip()}\n" for title, body in extra_sections]
    if plots:
        parts.append(plots_section(plots, Path(out_dir)))
    return "\n".join(parts)


def write_report(out_dir: str | Path, suite: str, preset: str, baseline: RunResult, experimental: RunResult,
                 checklist: Sequence[ChecklistItem], date: str, machine: str | None = None,
                 extra_sections: Sequence[tuple[str, str]] = (), extra_tables: Sequence[Table] = (),
                 plots: dict[str, Path] | None = None, description: str = "", target_loss: float | None = None,
                 margin: float = 0.02) -> Path:
    """Write out_dir/report.md and return its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    text = render_report(suite, preset, baseline, experimental, checklist, date, machine or machine_description(),
                         plots, out, description, target_loss, margin, extra_tables, extra_sections)
    path = out / "report.md"
    path.write_text(text)
    return path
