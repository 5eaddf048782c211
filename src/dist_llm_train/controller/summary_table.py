"""The end-of-run summary table printed by `dist-llm-train train`."""

from __future__ import annotations

from rich.table import Table

from dist_llm_train.controller.run_result import RunResult


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000:
            return f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"


def summary_table(r: RunResult) -> Table:
    t = Table(title=f"{r.name}: {r.model}, {r.num_workers} workers, stopped by {r.stopped_by}")
    t.add_column("metric")
    t.add_column("value", justify="right")
    f = r.final
    t.add_row("server steps", str(r.server_steps))
    t.add_row("virtual time", f"{r.virtual_time:.1f} s")
    t.add_row("wall time", f"{r.wall_time:.1f} s")
    if f.get("loss") is not None:
        t.add_row("validation loss", f"{f['loss']:.4f}")
    if f.get("perplexity") is not None:
        t.add_row("perplexity", f"{f['perplexity']:.2f}")
    if f.get("mlm_accuracy") is not None:
        t.add_row("MLM accuracy", f"{f['mlm_accuracy']:.4f}")
    s = r.summary
    t.add_row("acceptance rate", f"{s['acceptance_rate']:.1%} ({s['accepted']}/{s['submitted']})")
    t.add_row("bytes up / down", f"{human_bytes(s['bytes_up'])} / {human_bytes(s['bytes_down'])}")
    flt = s["filtering"]
    if flt["byzantine_inputs"]:
        t.add_row("Byzantine filtered", f"{flt['true_positives']}/{flt['byzantine_inputs']}")
    t.add_row("honest wrongly filtered", f"{flt['false_positives']}/{flt['honest_inputs']}")
    if r.utilization:
        t.add_row("mean utilization", f"{sum(r.utilization) / len(r.utilization):.1%}")
    return t
