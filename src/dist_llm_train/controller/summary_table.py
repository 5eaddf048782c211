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


def human_seconds(s: float) -> str:
    """A duration at a useful precision: 0.045 s of virtual time is "45.0 ms", not "0.0 s"."""
    a = abs(s)
    if a == 0:
        return "0 s"
    if a < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if a < 1:
        return f"{s * 1e3:.1f} ms"
    if a < 60:
        return f"{s:.2f} s"
    if a < 3600:
        return f"{int(s // 60)} min {s % 60:04.1f} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"


def summary_table(r: RunResult) -> Table:
    t = Table(title=f"{r.name}: {r.model}, {r.num_workers} workers, stopped by {r.stopped_by}")
    t.add_column("metric")
    t.add_column("value", justify="right")
    f = r.final
    t.add_row("server steps", str(r.server_steps))
    t.add_row("virtual time", human_seconds(r.virtual_time))
    t.add_row("wall time", human_seconds(r.wall_time))
    if f.get("loss") is not None:
        t.add_row("validation loss", f"{f['loss']:.4f}")
    if f.get("perplexity") is not None:
        t.add_row("perplexity", f"{f['perplexity']:.2f}")
    if f.get("mlm_accuracy") is not None:
        t.add_row("MLM accuracy", f"{f['mlm_accuracy']:.4f}")
    s = r.summary
    t.add_row("acceptance rate", f"{s['acceptance_rate']:.1%} ({s['accepted']}/{s['submitted']})")
    t.add_row("bytes up / down", f"{human_bytes(s['bytes_up'])} / {human_bytes(s['bytes_down'])}")
    # the simulator knows which workers are Byzantine; a real run (--runtime local) does not, so its
    # summary has no filtering counts against a ground truth
    flt = s.get("filtering")
    if flt:
        if flt["byzantine_inputs"]:
            t.add_row("Byzantine filtered", f"{flt['true_positives']}/{flt['byzantine_inputs']}")
        t.add_row("honest wrongly filtered", f"{flt['false_positives']}/{flt['honest_inputs']}")
    if r.utilization:
        t.add_row("mean utilization", f"{sum(r.utilization) / len(r.utilization):.1%}")
    return t
