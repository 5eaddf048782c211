"""Every number the validation report shows, derived from finished RunResults and nothing else.

The checklist, report.md and results.json all read their figures from here, so the same quantity
is computed once and the three can never disagree. Definitions (documented for users in
docs/validation_report.md):

- relative change of a metric: experimental / baseline - 1 (+0.05 = 5% higher than the baseline);
- uplink reduction: baseline bytes_up / experimental bytes_up; total reduction: the same with
  bytes_up + bytes_down. Both are totals over the whole run, so they compare like with like only
  when both runs processed the same sample budget (the validation suites ensure that);
- bytes per worker per hour: (bytes_up + bytes_down) of a worker / the run's virtual hours, in GB
  (1e9 bytes); the checklist uses the busiest worker;
- staleness percentiles: nearest-rank percentiles of every staleness the server observed (accepted
  and rejected updates), from the per-worker histograms.
"""

from __future__ import annotations

import math
from collections import Counter

from dist_llm_train.controller.run_result import RunResult
from dist_llm_train.errors import PreconditionError
from dist_llm_train.validation.curves import first_crossing, initial_value, sample_axis

GB = 1e9
HOUR = 3600.0


def is_finite(x) -> bool:
    return x is not None and math.isfinite(float(x))


def relative_change(experimental: float | None, baseline: float | None) -> float | None:
    """experimental / baseline - 1, or None when either is missing, non-finite, or the baseline is 0."""
    if not (is_finite(experimental) and is_finite(baseline)) or baseline == 0:
        return None
    return float(experimental) / float(baseline) - 1.0


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when undefined (a missing value or a zero denominator)."""
    if not (is_finite(numerator) and is_finite(denominator)) or denominator == 0:
        return None
    return float(numerator) / float(denominator)


# -- one run --------------------------------------------------------------------------------------
def workers(run: RunResult) -> list[dict]:
    """The coordinator's per-worker records, each with its name and region added."""
    out = []
    for w in run.summary.get("workers", []):
        i = int(w["worker_id"])
        name = run.worker_names[i] if i < len(run.worker_names) else str(i)
        region = run.worker_regions[i] if i < len(run.worker_regions) else ""
        out.append({**w, "name": name, "region": region})
    return out


def staleness_histogram(run: RunResult, region: str | None = None) -> Counter:
    """tau -> count over all workers (or one region's), as the server observed them."""
    hist: Counter = Counter()
    for w in workers(run):
        if region is not None and w["region"] != region:
            continue
        for tau, n in w.get("staleness_hist", {}).items():
            hist[int(tau)] += int(n)
    return hist


def percentile(hist: Counter, q: float) -> int | None:
    """Nearest-rank percentile of a histogram: the smallest value whose cumulative count reaches
    ceil(q * total). None for an empty histogram."""
    if not 0 <= q <= 1:
        raise PreconditionError(f"percentile q must be in [0, 1], got {q}")
    total = sum(hist.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for v in sorted(hist):
        seen += hist[v]
        if seen >= rank:
            return v
    return max(hist)


def accepted_staleness_histogram(run: RunResult) -> Counter:
    """tau -> count of the *accepted* updates over all workers (what actually moved the model)."""
    hist: Counter = Counter()
    for w in workers(run):
        for tau, n in w.get("accepted_staleness_hist", {}).items():
            hist[int(tau)] += int(n)
    return hist


def stale_accepted_share(run: RunResult) -> float | None:
    """The share of accepted updates computed on parameters at least one server step old: how much
    of the run was really asynchronous (0 for synchronous training). None when nothing was accepted
    or the run's record predates the accepted-staleness histogram."""
    hist = accepted_staleness_histogram(run)
    total = sum(hist.values())
    if total == 0:
        return None
    return sum(n for tau, n in hist.items() if tau >= 1) / total


def staleness_summary(run: RunResult, region: str | None = None) -> dict:
    hist = staleness_histogram(run, region)
    return {"count": sum(hist.values()), "p50": percentile(hist, 0.5), "p90": percentile(hist, 0.9),
            "max": max(hist) if hist else None,
            "stale_accepted_share": stale_accepted_share(run) if region is None else None}


def region_acceptance(run: RunResult) -> dict[str, dict]:
    """region -> {workers, submitted, accepted, acceptance_rate} (honest and Byzantine together);
    the rate is None for a region that submitted nothing (nothing was judged)."""
    out: dict[str, dict] = {}
    for w in workers(run):
        r = out.setdefault(w["region"], {"workers": 0, "submitted": 0, "accepted": 0})
        r["workers"] += 1
        r["submitted"] += int(w["submitted"])
        r["accepted"] += int(w["accepted"])
    for r in out.values():
        r["acceptance_rate"] = r["accepted"] / r["submitted"] if r["submitted"] else None
    return out


def virtual_hours(run: RunResult) -> float:
    return run.virtual_time / HOUR


def worker_gb_per_hour(run: RunResult) -> list[float | None]:
    """(bytes_up + bytes_down) / virtual hours per worker, in GB; None when no virtual time passed."""
    hours = virtual_hours(run)
    return [(w["bytes_up"] + w["bytes_down"]) / GB / hours if hours > 0 else None for w in workers(run)]


def worker_table(run: RunResult) -> list[dict]:
    """One row per worker: identity, acceptance, staleness, bytes, GB/h, utilization, trust."""
    rates = worker_gb_per_hour(run)
    rows = []
    for i, w in enumerate(workers(run)):
        hist = Counter({int(k): int(v) for k, v in w.get("staleness_hist", {}).items()})
        wid = int(w["worker_id"])
        rows.append({
            "worker_id": wid,
            "name": w["name"],
            "region": w["region"],
            "byzantine": bool(w["byzantine"]),
            "submitted": int(w["submitted"]),
            "accepted": int(w["accepted"]),
            "acceptance_rate": float(w["acceptance_rate"]),
            "rejected": dict(w.get("rejected", {})),
            "staleness_p50": percentile(hist, 0.5),
            "staleness_max": max(hist) if hist else None,
            "bytes_up": int(w["bytes_up"]),
            "bytes_down": int(w["bytes_down"]),
            "gb_per_hour": rates[i],
            "samples": int(w.get("samples", 0)),
            "aggregations": int(w.get("aggregations", 0)),
            "filtered": int(w.get("filtered", 0)),
            "mean_trust": w.get("mean_trust"),
            "utilization": run.utilization[wid] if wid < len(run.utilization) else None,
        })
    return rows


def run_figures(run: RunResult) -> dict:
    """The headline numbers of one run."""
    f = run.final
    s = run.summary
    rates = [r for r in worker_gb_per_hour(run) if r is not None]
    n = max(1, run.num_workers)
    return {
        "name": run.name,
        "model": run.model,
        "kind": run.kind,
        "num_params": run.num_params,
        "num_workers": run.num_workers,
        "byzantine_ids": list(run.byzantine_ids),
        "mode": run.config.get("sync", {}).get("mode"),
        "codec": run.config.get("compression", {}).get("codec"),
        "aggregation": run.config.get("aggregation", {}).get("rule"),
        "aggregation_f": run.config.get("aggregation", {}).get("f"),
        "stopped_by": run.stopped_by,
        "server_steps": run.server_steps,
        "samples": f.get("samples"),
        "samples_processed": f.get("samples_processed"),
        "virtual_time": run.virtual_time,
        "wall_time": run.wall_time,
        "initial_loss": initial_value(run.curve, "loss"),
        "final_loss": f.get("loss"),
        "final_perplexity": f.get("perplexity"),
        "final_mlm_accuracy": f.get("mlm_accuracy"),
        "final_train_loss": f.get("train_loss"),
        "bytes_up": int(s["bytes_up"]),
        "bytes_down": int(s["bytes_down"]),
        "bytes_total": int(s["bytes_up"]) + int(s["bytes_down"]),
        "bytes_up_per_worker": s["bytes_up"] / n,
        "bytes_down_per_worker": s["bytes_down"] / n,
        "max_worker_gb_per_hour": max(rates) if rates else None,
        "submitted": int(s["submitted"]),
        "accepted": int(s["accepted"]),
        "acceptance_rate": float(s["acceptance_rate"]),
        "flushes": int(s.get("flushes", 0)),
        "staleness": staleness_summary(run),
        "filtering": dict(s.get("filtering", {})),
        "mean_utilization": sum(run.utilization) / len(run.utilization) if run.utilization else None,
    }


# -- two runs -------------------------------------------------------------------------------------
def target_loss_for(baseline: RunResult, target_loss: float | None = None, margin: float = 0.02) -> float:
    """The loss both runs are timed to: `target_loss` if given, else the baseline's final loss times
    (1 + margin). The margin makes the target one the baseline reaches before its very last point
    rather than exactly at it, so a run that converges like the baseline is not failed by noise."""
    if target_loss is not None:
        return float(target_loss)
    final = baseline.final_loss
    if not is_finite(final):
        raise PreconditionError(
            f"baseline run {baseline.name!r} has no finite final loss ({final}); give target_loss explicitly"
        )
    return float(final) * (1.0 + margin)


def to_target(run: RunResult, target: float, sample_ax: str) -> dict:
    """Where `run` first reaches `target` on every axis (None = never)."""
    return {
        "step": first_crossing(run.curve, target, "step"),
        "samples": first_crossing(run.curve, target, sample_ax),
        "virtual_time": first_crossing(run.curve, target, "virtual_time"),
        "bytes": first_crossing(run.curve, target, "bytes"),
    }


def compare(baseline: RunResult, experimental: RunResult, target_loss: float | None = None,
            margin: float = 0.02) -> dict:
    """Differences, reductions and time to the target loss of experimental against baseline."""
    b, e = run_figures(baseline), run_figures(experimental)
    target = None
    if target_loss is not None or is_finite(baseline.final_loss):
        target = target_loss_for(baseline, target_loss, margin)
    ax = sample_axis(baseline.curve, experimental.curve)
    tb = to_target(baseline, target, ax) if target is not None else {}
    te = to_target(experimental, target, ax) if target is not None else {}
    return {
        "loss_change": relative_change(e["final_loss"], b["final_loss"]),
        "perplexity_change": relative_change(e["final_perplexity"], b["final_perplexity"]),
        "mlm_accuracy_change": relative_change(e["final_mlm_accuracy"], b["final_mlm_accuracy"]),
        "uplink_reduction": ratio(b["bytes_up"], e["bytes_up"]),
        "downlink_reduction": ratio(b["bytes_down"], e["bytes_down"]),
        "total_reduction": ratio(b["bytes_total"], e["bytes_total"]),
        "target_loss": target,
        "target_margin": None if target_loss is not None else margin,
        "sample_axis": ax,
        "baseline_to_target": tb,
        "experimental_to_target": te,
        "to_target_ratio": {k: ratio(te.get(k), tb.get(k)) for k in tb},
    }
