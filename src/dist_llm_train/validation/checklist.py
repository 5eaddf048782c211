"""The validation checklist: each item a measured number, a threshold and a verdict.

Items are data. A suite lists item specs such as `{"item": "perplexity_within", "threshold": 0.10}`;
`evaluate_checklist` turns them into ChecklistItems computed from the baseline and experimental
RunResults, nothing else. Each item function is also callable directly with keyword thresholds.
Specs are checked by `check_specs` (unknown item, unknown or missing parameter -> ConfigError) so
that a typo is caught before hours of training rather than after.

Conventions: "within X" items measure a relative degradation (experimental against baseline) and
pass when it is <= X; "above"/"below" items are strict unless the spec says `inclusive: true`.
An item whose input is missing (no Byzantine worker to detect, a curve that never reaches the
target) fails with a detail saying what was missing: a check that was asked for and could not be
measured has not passed.
"""

from __future__ import annotations

import inspect
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from dist_llm_train.controller.run_result import RunResult
from dist_llm_train.errors import ConfigError, DistLLMError
from dist_llm_train.validation import figures as fig
from dist_llm_train.validation.curves import first_crossing, initial_value, sample_axis

#: ways a run may stop that mean it finished as planned
CLEAN_STOPS = ("max_server_steps", "max_samples", "target_loss", "virtual_time_budget", "max_wall_seconds")

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}


@dataclass
class ChecklistItem:
    name: str
    measured: float | None
    threshold: float | None
    comparison: str  # measured <comparison> threshold must hold
    passed: bool
    detail: str
    unit: str = ""  # relative | fraction | x | GB/h | loss | step | samples | s
    inputs: dict = field(default_factory=dict)  # the raw numbers `measured` was computed from

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: Mapping) -> ChecklistItem:
        return cls(**dict(d))


def holds(measured: float | None, comparison: str, threshold: float | None) -> bool:
    """Whether `measured comparison threshold`; a missing or non-finite number never passes."""
    if measured is None or threshold is None or not math.isfinite(measured):
        return False
    return _OPS[comparison](measured, threshold)


def _pct(x: float) -> str:
    return f"{x * 100:g}%"


def _above(inclusive: bool) -> str:
    return ">=" if inclusive else ">"


def _below(inclusive: bool) -> str:
    return "<=" if inclusive else "<"


def _fmt(x) -> str:
    return "missing" if x is None else f"{x:.4g}"


def _item(name, measured, comparison, threshold, unit, detail, inputs, ok=True) -> ChecklistItem:
    passed = bool(ok) and holds(measured, comparison, threshold)
    return ChecklistItem(name, measured, threshold, comparison, passed, detail, unit, inputs)


# -- convergence quality --------------------------------------------------------------------------
def _relative_item(name, metric, baseline, experimental, threshold, worse_is_higher=True) -> ChecklistItem:
    b, e = baseline.final.get(metric), experimental.final.get(metric)
    change = fig.relative_change(e, b)
    measured = None if change is None else (change if worse_is_higher else -change)
    direction = "increase" if worse_is_higher else "decrease"
    rel = "n/a" if measured is None else f"{measured:+.2%}"
    detail = f"{metric}: experimental {_fmt(e)} vs baseline {_fmt(b)}, relative {direction} {rel}"
    if change is None:
        detail += f" ({metric} missing or non-finite in a run's final evaluation)"
    return _item(name, measured, "<=", threshold, "relative", detail, {"baseline": b, "experimental": e})


def perplexity_within(baseline: RunResult, experimental: RunResult, threshold: float = 0.10) -> ChecklistItem:
    """Final perplexity at most (1 + threshold) x the baseline's."""
    return _relative_item(f"Final perplexity within {_pct(threshold)} of baseline", "perplexity",
                          baseline, experimental, threshold)


def final_loss_within(baseline: RunResult, experimental: RunResult, threshold: float = 0.10) -> ChecklistItem:
    """Final validation loss at most (1 + threshold) x the baseline's."""
    return _relative_item(f"Final loss within {_pct(threshold)} of baseline", "loss", baseline, experimental,
                          threshold)


def mlm_accuracy_within(baseline: RunResult, experimental: RunResult, threshold: float = 0.05) -> ChecklistItem:
    """Final MLM accuracy at least (1 - threshold) x the baseline's (a relative, not absolute, drop)."""
    return _relative_item(f"MLM accuracy within {_pct(threshold)} of baseline (relative drop)", "mlm_accuracy",
                          baseline, experimental, threshold, worse_is_higher=False)


def no_divergence(baseline: RunResult, experimental: RunResult, clean_stops: list[str] | None = None) -> ChecklistItem:
    """Finite final loss, below the loss before training, and the run stopped for a planned reason."""
    stops = tuple(clean_stops) if clean_stops is not None else CLEAN_STOPS
    start, end = initial_value(experimental.curve, "loss"), experimental.final_loss
    finite = fig.is_finite(end)
    clean = experimental.stopped_by in stops
    problems = []
    if not finite:
        problems.append(f"final loss is {end}")
    if not clean:
        problems.append(f"stopped by {experimental.stopped_by!r}, not one of {', '.join(stops)}")
    if finite and start is not None and not end < start:
        problems.append("loss did not fall below its initial value")
    detail = f"loss {_fmt(start)} -> {_fmt(end)}, stopped by {experimental.stopped_by}"
    if problems:
        detail += "; " + "; ".join(problems)
    return _item("No divergence or crash", float(end) if end is not None else None, "<", start, "loss", detail,
                 {"initial_loss": start, "final_loss": end, "stopped_by": experimental.stopped_by}, ok=clean)


#: metrics the gain items know, and whether a higher value is better
_GAIN_METRICS = {"perplexity": False, "loss": False, "mlm_accuracy": True}


def _gain_metric(metric: str) -> bool:
    if metric not in _GAIN_METRICS:
        raise ConfigError(f"gain items take metric {', '.join(_GAIN_METRICS)}; not {metric!r}")
    return _GAIN_METRICS[metric]


def _before(baseline: RunResult, metric: str) -> float | None:
    """The metric before any training: the baseline curve's first point (both runs start from the same
    parameters and are evaluated on the same held-out tokens)."""
    return initial_value(baseline.curve, metric)


def baseline_improves(baseline: RunResult, experimental: RunResult, threshold: float = 0.10,
                      metric: str = "perplexity") -> ChecklistItem:
    """The baseline's relative improvement over the starting model: a fine-tuning validation whose
    baseline learns nothing cannot show that the system keeps what the baseline learns."""
    higher_better = _gain_metric(metric)
    before, after = _before(baseline, metric), baseline.final.get(metric)
    change = fig.relative_change(after, before)
    measured = None if change is None else (change if higher_better else -change)
    word = "rise" if higher_better else "fall"
    detail = f"baseline {metric} {_fmt(before)} before training -> {_fmt(after)} after"
    return _item(f"Baseline improves on the starting model ({metric} {word}s >= {_pct(threshold)})", measured, ">=",
                 threshold, "relative", detail, {"before": before, "baseline": after})


def gain_retained(baseline: RunResult, experimental: RunResult, threshold: float = 0.75,
                  metric: str = "perplexity") -> ChecklistItem:
    """(before - experimental) / (before - baseline) for a lower-is-better metric (the other way round
    for accuracy): the share of the baseline's improvement over the starting model that the full
    system keeps. A relative bound on the final metric alone says little when training moves it by a
    few percent; this measures against what there was to gain."""
    higher_better = _gain_metric(metric)
    before, b, e = _before(baseline, metric), baseline.final.get(metric), experimental.final.get(metric)
    name = f"Gain retained ({metric}: experimental's improvement / baseline's) >= {threshold:g}"
    inputs = {"before": before, "baseline": b, "experimental": e}
    if not all(fig.is_finite(x) for x in (before, b, e)):
        return _item(name, None, ">=", threshold, "ratio", f"{metric} missing or non-finite: before {_fmt(before)}, "
                     f"baseline {_fmt(b)}, experimental {_fmt(e)}", inputs)
    sign = 1.0 if higher_better else -1.0
    gain_b, gain_e = sign * (b - before), sign * (e - before)
    detail = (f"{metric} before {_fmt(before)}; baseline {_fmt(b)} (gain {gain_b:.4g}), experimental {_fmt(e)} "
              f"(gain {gain_e:.4g})")
    if gain_b <= 0:
        return _item(name, None, ">=", threshold, "ratio", detail + "; the baseline did not improve, so there is no "
                     "gain to retain", inputs)
    return _item(name, gain_e / gain_b, ">=", threshold, "ratio", detail, inputs)


def baseline_metric_above(baseline: RunResult, experimental: RunResult, metric: str = "mlm_accuracy",
                          threshold: float = 0.20) -> ChecklistItem:
    """The baseline's final metric reaches a floor, so that "within X% of baseline" compares runs that
    learned something (MLM accuracy near the frequent-token rate means nothing)."""
    v = baseline.final.get(metric)
    return _item(f"Baseline {metric} >= {_fmt(threshold)}", None if v is None else float(v), ">=", threshold,
                 "fraction" if metric.endswith("accuracy") else "", f"baseline final {metric} {_fmt(v)}",
                 {"baseline": v})


# -- acceptance -----------------------------------------------------------------------------------
def acceptance_above(baseline: RunResult, experimental: RunResult, threshold: float = 0.80,
                     inclusive: bool = False) -> ChecklistItem:
    """Accepted / submitted updates over all workers."""
    s = experimental.summary
    return _item(f"Gradient acceptance rate {_above(inclusive)} {_pct(threshold)}", float(s["acceptance_rate"]),
                 _above(inclusive), threshold, "fraction", f"{s['accepted']} of {s['submitted']} updates accepted",
                 {"accepted": s["accepted"], "submitted": s["submitted"]})


def no_worker_starved(baseline: RunResult, experimental: RunResult, min_acceptance: float = 0.0,
                      inclusive: bool = False) -> ChecklistItem:
    """Every honest worker's acceptance rate above the floor (floor 0: each had an update accepted)."""
    honest = [w for w in fig.workers(experimental) if not w["byzantine"]]
    rates = {w["name"]: float(w["acceptance_rate"]) for w in honest}
    measured = min(rates.values()) if rates else None
    starved = [n for n, r in rates.items() if not holds(r, _above(inclusive), min_acceptance)]
    lowest = "n/a" if measured is None else f"{measured:.1%}"
    detail = f"lowest honest acceptance {lowest} over {len(rates)} honest workers"
    if starved:
        detail += f"; at or below the floor: {', '.join(starved)}"
    return _item(f"No worker starved (every honest worker's acceptance {_above(inclusive)} {_pct(min_acceptance)})",
                 measured, _above(inclusive), min_acceptance, "fraction", detail, {"per_worker": rates})


def region_acceptance_above(baseline: RunResult, experimental: RunResult, region: str, threshold: float = 0.10,
                            inclusive: bool = False) -> ChecklistItem:
    """Accepted / submitted over the workers of one region (e.g. "edge-device")."""
    regions = fig.region_acceptance(experimental)
    r = regions.get(region)
    name = f"Workers in {region} have {_above(inclusive)} {_pct(threshold)} of their updates accepted"
    if r is None:
        detail = f"no worker in region {region!r}; regions of this run: {', '.join(sorted(regions))}"
        return _item(name, None, _above(inclusive), threshold, "fraction", detail, {})
    detail = f"{r['accepted']} of {r['submitted']} updates from {r['workers']} worker(s) accepted"
    if not r["submitted"]:
        detail = f"the {r['workers']} worker(s) in {region} submitted no update during the run"
    return _item(name, r["acceptance_rate"], _above(inclusive), threshold, "fraction", detail, dict(r))


def asynchrony_exercised(baseline: RunResult, experimental: RunResult, threshold: float = 0.30) -> ChecklistItem:
    """The share of accepted updates with staleness >= 1: a run called asynchronous in which every
    server step waits for every worker (all staleness 0) is synchronous training, and proves
    nothing about staleness."""
    hist = fig.accepted_staleness_histogram(experimental)
    share = fig.stale_accepted_share(experimental)
    total = sum(hist.values())
    spread = ", ".join(f"{tau}: {n}" for tau, n in sorted(hist.items())) or "none"
    detail = (f"{total - hist.get(0, 0)} of {total} accepted updates at staleness >= 1 (staleness: count = {spread}); "
              f"mode {experimental.config.get('sync', {}).get('mode')}")
    return _item(f"Asynchrony exercised (accepted updates with staleness >= 1 >= {_pct(threshold)})", share, ">=",
                 threshold, "fraction", detail, {"accepted_staleness_hist": {str(k): v for k, v in hist.items()}})


# -- bandwidth ------------------------------------------------------------------------------------
def uplink_reduction_above(baseline: RunResult, experimental: RunResult, threshold: float = 10.0,
                           inclusive: bool = False) -> ChecklistItem:
    """Baseline bytes_up / experimental bytes_up (worker -> server traffic, the compressed direction)."""
    b, e = int(baseline.summary["bytes_up"]), int(experimental.summary["bytes_up"])
    return _item(f"Uplink bandwidth reduction {_above(inclusive)} {threshold:g}x (baseline / experimental bytes up)",
                 fig.ratio(b, e), _above(inclusive), threshold, "x", f"bytes up: baseline {b}, experimental {e}",
                 {"baseline_bytes_up": b, "experimental_bytes_up": e})


def total_reduction_above(baseline: RunResult, experimental: RunResult, threshold: float = 10.0,
                          inclusive: bool = False) -> ChecklistItem:
    """Baseline (bytes_up + bytes_down) / experimental (bytes_up + bytes_down): both directions."""
    b = int(baseline.summary["bytes_up"]) + int(baseline.summary["bytes_down"])
    e = int(experimental.summary["bytes_up"]) + int(experimental.summary["bytes_down"])
    return _item(f"Total bandwidth reduction {_above(inclusive)} {threshold:g}x (up + down, baseline / experimental)",
                 fig.ratio(b, e), _above(inclusive), threshold, "x", f"bytes up+down: baseline {b}, experimental {e}",
                 {"baseline_bytes_total": b, "experimental_bytes_total": e})


def uplink_reduction_at_quality(baseline: RunResult, experimental: RunResult, threshold: float = 100.0,
                                max_perplexity_change: float = 0.05, inclusive: bool = True) -> ChecklistItem:
    """Uplink reduction (baseline / experimental bytes up, same sample budget) that counts only when the
    final perplexity is within max_perplexity_change of the baseline's: a codec that saves bytes by
    not learning has reached no reduction at that quality. Measured: the reduction; passes when it
    reaches the threshold and the perplexity condition holds (both are in the detail)."""
    b, e = int(baseline.summary["bytes_up"]), int(experimental.summary["bytes_up"])
    reduction = fig.ratio(b, e)
    pb, pe = baseline.final.get("perplexity"), experimental.final.get("perplexity")
    change = fig.relative_change(pe, pb)
    quality_ok = change is not None and change <= max_perplexity_change
    rel = "n/a (perplexity missing or non-finite)" if change is None else f"{change:+.2%}"
    detail = (f"bytes up: baseline {b}, experimental {e}; perplexity {_fmt(pe)} vs baseline {_fmt(pb)}, "
              f"{rel} (must be <= +{_pct(max_perplexity_change)})")
    if not quality_ok:
        detail += "; the quality condition does not hold, so the reduction does not count"
    return _item(f"Uplink reduction {_above(inclusive)} {threshold:g}x at perplexity within "
                 f"{_pct(max_perplexity_change)} of baseline", reduction, _above(inclusive), threshold, "x", detail,
                 {"baseline_bytes_up": b, "experimental_bytes_up": e, "baseline_perplexity": pb,
                  "experimental_perplexity": pe, "perplexity_change": change,
                  "max_perplexity_change": max_perplexity_change}, ok=quality_ok)


def bytes_per_worker_hour_below(baseline: RunResult, experimental: RunResult, threshold_gb: float = 10.0,
                                inclusive: bool = False) -> ChecklistItem:
    """The busiest worker's (bytes_up + bytes_down) per virtual hour, in GB (1e9 bytes)."""
    rates = fig.worker_gb_per_hour(experimental)
    known = [r for r in rates if r is not None]
    measured = max(known) if known else None
    detail = (f"busiest worker {_fmt(measured)} GB/h over {experimental.virtual_time:.4g} s of virtual time"
              if known else "no virtual time elapsed")
    return _item(f"Bandwidth per worker {_below(inclusive)} {threshold_gb:g} GB per hour", measured,
                 _below(inclusive), threshold_gb, "GB/h", detail,
                 {"per_worker_gb_per_hour": rates, "virtual_time": experimental.virtual_time})


def _serialization_seconds(run: RunResult) -> list[float] | None:
    """Per worker, the seconds its links spent serializing the bytes it moved (bytes / bandwidth,
    inflated by loss): the part of its transfer time that grows with the message size. None when
    the run's topology cannot be rebuilt from its config."""
    from dist_llm_train.config.schema import NetworkConfig
    from dist_llm_train.network import build_topology

    if not isinstance(run.config, Mapping) or "network" not in run.config:
        return None
    try:
        topo = build_topology(NetworkConfig.model_validate(run.config["network"]))
    except Exception:  # an old or hand-edited record: the projection falls back to the fixed-rate bound
        return None
    rows = fig.workers(run)
    if len(topo) != len(rows):
        return None
    out = []
    for w in rows:
        i = int(w["worker_id"])
        if i >= len(topo):
            return None
        link = topo[i]
        up = w["bytes_up"] * 8.0 / (link.bandwidth_up * 1e6)
        down = w["bytes_down"] * 8.0 / (link.bandwidth_down * 1e6)
        out.append((up + down) / (1.0 - link.loss))
    return out


def bytes_per_worker_hour_projected_below(baseline: RunResult, experimental: RunResult, params: int,
                                          threshold_gb: float = 10.0, inclusive: bool = False) -> ChecklistItem:
    """The busiest worker's GB per virtual hour for the same run with a model of `params` parameters.

    With the codec's ratio fixed every message grows by s = params / num_params, and so do each
    worker's compute time (about 6 x parameters FLOPs per token) and its links' serialization time;
    latency and waiting do not grow. The same run at the larger size moves s times the bytes and
    lasts at least as long as the measured run and at least as long as any one worker's own scaled
    compute and serialization (each worker does its pulls, steps and pushes one after another):
    T' = max(T, max_v s * (compute_v + serialization_v)). Bytes x s / T' is then an upper bound on
    the rate (the true T' also pays the latencies and the waiting for the slowest). Without a
    rebuildable topology the bound falls back to T' = T (the step rate held fixed)."""
    rows = fig.workers(experimental)
    hours = fig.virtual_hours(experimental)
    if not rows or hours <= 0:
        return _item(f"Bandwidth per worker projected to {params / 1e6:g}M parameters {_below(inclusive)} "
                     f"{threshold_gb:g} GB per hour", None, _below(inclusive), threshold_gb, "GB/h",
                     "no virtual time elapsed", {"params": params})
    scale = params / experimental.num_params
    serial = _serialization_seconds(experimental)
    t = experimental.virtual_time
    if serial is None:
        t_scaled, how = t, "step rate held fixed (topology not rebuildable)"
    else:
        busiest_busy = max(scale * (float(w.get("compute_time", 0.0)) + sv) for w, sv in zip(rows, serial))
        t_scaled = max(t, busiest_busy)
        how = (f"virtual time {t:.4g} s -> at least {t_scaled:.4g} s (the longest worker's compute + serialization "
               f"x {scale:.4g})")
    rates = [(w["bytes_up"] + w["bytes_down"]) * scale / fig.GB / (t_scaled / fig.HOUR) for w in rows]
    measured = [r for r in fig.worker_gb_per_hour(experimental) if r is not None]
    projected = max(rates)
    return _item(f"Bandwidth per worker projected to {params / 1e6:g}M parameters {_below(inclusive)} "
                 f"{threshold_gb:g} GB per hour", projected, _below(inclusive), threshold_gb, "GB/h",
                 f"measured {_fmt(max(measured) if measured else None)} GB/h at {experimental.num_params} "
                 f"parameters; bytes x {scale:.4g}, {how} (an upper bound)",
                 {"measured_gb_per_hour": max(measured) if measured else None, "num_params": experimental.num_params,
                  "params": params, "virtual_time": t, "projected_virtual_time": t_scaled,
                  "per_worker_projected_gb_per_hour": rates})


# -- Byzantine filtering --------------------------------------------------------------------------
def byzantine_filtered(baseline: RunResult, experimental: RunResult, threshold: float = 1.0,
                       max_false_positive_rate: float | None = None) -> list[ChecklistItem]:
    """Detection rate (Byzantine inputs given trust below 0.5 / Byzantine inputs) >= threshold; with
    max_false_positive_rate, also the honest false-positive item."""
    flt = experimental.summary["filtering"]
    detail = f"{flt['true_positives']} of {flt['byzantine_inputs']} Byzantine inputs filtered"
    if not flt["byzantine_inputs"]:
        detail = "no Byzantine inputs in this run: nothing to detect"
    items = [_item(f"Byzantine workers filtered (detection rate >= {_pct(threshold)})", flt["detection_rate"], ">=",
                   threshold, "fraction", detail,
                   {k: flt[k] for k in ("true_positives", "byzantine_inputs", "detection_rate")})]
    if max_false_positive_rate is not None:
        items.append(false_positive_rate_below(baseline, experimental, max_false_positive_rate))
    return items


def false_positive_rate_below(baseline: RunResult, experimental: RunResult, threshold: float = 0.05,
                              inclusive: bool = False) -> ChecklistItem:
    """Honest inputs filtered / honest inputs."""
    flt = experimental.summary["filtering"]
    return _item(f"Honest false-positive rate {_below(inclusive)} {_pct(threshold)}", flt["false_positive_rate"],
                 _below(inclusive), threshold, "fraction",
                 f"{flt['false_positives']} of {flt['honest_inputs']} honest inputs filtered",
                 {"false_positives": flt["false_positives"], "honest_inputs": flt["honest_inputs"]})


# -- convergence speed ----------------------------------------------------------------------------
_AXIS_WORDS = {"step": ("Server steps", "step"), "samples": ("Samples", "samples"),
               "virtual_time": ("Virtual time", "s")}


def _to_target_within(baseline, experimental, threshold, axis, target_loss, margin) -> ChecklistItem:
    words, unit = _AXIS_WORDS[axis]
    curve_axis = sample_axis(baseline.curve, experimental.curve) if axis == "samples" else axis
    name = f"{words} to the target loss within +{_pct(threshold)} of baseline"
    try:
        target = fig.target_loss_for(baseline, target_loss, margin)
    except DistLLMError as exc:
        return _item(name, None, "<=", threshold, "relative", str(exc), {})
    b = first_crossing(baseline.curve, target, curve_axis)
    e = first_crossing(experimental.curve, target, curve_axis)
    rel = None if b is None or e is None else (e / b - 1.0 if b > 0 else (0.0 if e == 0 else math.inf))
    how = f"given target {target:.4g}" if target_loss is not None else (
        f"target {target:.4g} = baseline final loss x (1 + {margin:g})")
    reached = {k: "never reached it" if v is None else f"{v:.4g}" for k, v in (("b", b), ("e", e))}
    detail = f"{how}; {curve_axis}: baseline {reached['b']}, experimental {reached['e']}"
    return _item(name, rel, "<=", threshold, "relative", detail,
                 {"target_loss": target, "axis": curve_axis, "unit": unit, "baseline": b, "experimental": e})


def steps_to_target_within(baseline: RunResult, experimental: RunResult, threshold: float = 0.20,
                           target_loss: float | None = None, margin: float = 0.02) -> ChecklistItem:
    """Server steps to the target loss at most (1 + threshold) x the baseline's. Comparable only
    when a server step aggregates as many worker updates in both runs (same buffer size)."""
    return _to_target_within(baseline, experimental, threshold, "step", target_loss, margin)


def samples_to_target_within(baseline: RunResult, experimental: RunResult, threshold: float = 0.20,
                             target_loss: float | None = None, margin: float = 0.02) -> ChecklistItem:
    """Samples (sequences the workers processed) to the target loss, at most (1 + threshold) x the
    baseline's: the step count's fair form when the runs aggregate different numbers of updates."""
    return _to_target_within(baseline, experimental, threshold, "samples", target_loss, margin)


def time_to_target_within(baseline: RunResult, experimental: RunResult, threshold: float = 0.20,
                          target_loss: float | None = None, margin: float = 0.02) -> ChecklistItem:
    """Virtual seconds to the target loss, at most (1 + threshold) x the baseline's."""
    return _to_target_within(baseline, experimental, threshold, "virtual_time", target_loss, margin)


def faster_with_async(baseline: RunResult, experimental: RunResult, sync_run: RunResult | None = None,
                      threshold: float = 1.5, target_loss: float | None = None, margin: float = 0.02) -> ChecklistItem:
    """Virtual time to the target loss of synchronous training on the experimental run's own
    heterogeneous workers (sync_run: the same configuration with a barrier every step) divided by
    the asynchronous experimental run's. The guide's "faster with async": every step of the
    synchronous run waits for its slowest worker, the asynchronous one lets fast workers go on."""
    name = f"Faster with async (virtual time to the target loss, sync / async on the same workers) >= {threshold:g}x"
    if sync_run is None:
        return _item(name, None, ">=", threshold, "x", "no synchronous run on the experimental run's workers was "
                     "made (the suite has no sync reference)", {})
    try:
        target = fig.target_loss_for(baseline, target_loss, margin)
    except DistLLMError as exc:
        return _item(name, None, ">=", threshold, "x", str(exc), {})
    t_sync = first_crossing(sync_run.curve, target, "virtual_time")
    t_async = first_crossing(experimental.curve, target, "virtual_time")
    reached = {k: "never reached it" if v is None else f"{v:.4g} s" for k, v in (("s", t_sync), ("a", t_async))}
    detail = (f"target loss {target:.4g}; virtual time to it: synchronous {reached['s']}, asynchronous "
              f"{reached['a']}")
    measured = fig.ratio(t_sync, t_async) if t_sync is not None and t_async is not None else None
    return _item(name, measured, ">=", threshold, "x", detail,
                 {"target_loss": target, "sync_virtual_time": t_sync, "async_virtual_time": t_async})


# -- specs ----------------------------------------------------------------------------------------
ITEMS: dict[str, Callable[..., ChecklistItem | list[ChecklistItem]]] = {
    "perplexity_within": perplexity_within,
    "mlm_accuracy_within": mlm_accuracy_within,
    "final_loss_within": final_loss_within,
    "no_divergence": no_divergence,
    "acceptance_above": acceptance_above,
    "no_worker_starved": no_worker_starved,
    "region_acceptance_above": region_acceptance_above,
    "uplink_reduction_above": uplink_reduction_above,
    "total_reduction_above": total_reduction_above,
    "uplink_reduction_at_quality": uplink_reduction_at_quality,
    "bytes_per_worker_hour_below": bytes_per_worker_hour_below,
    "bytes_per_worker_hour_projected_below": bytes_per_worker_hour_projected_below,
    "byzantine_filtered": byzantine_filtered,
    "false_positive_rate_below": false_positive_rate_below,
    "steps_to_target_within": steps_to_target_within,
    "samples_to_target_within": samples_to_target_within,
    "time_to_target_within": time_to_target_within,
    "baseline_improves": baseline_improves,
    "gain_retained": gain_retained,
    "baseline_metric_above": baseline_metric_above,
    "asynchrony_exercised": asynchrony_exercised,
    "faster_with_async": faster_with_async,
}

#: item parameters that are runs beyond the baseline and the experimental one, filled in by
#: evaluate_checklist from its `runs` (label -> RunResult), never written in a spec
RUN_PARAMETERS = {"sync_run": "sync-reference"}


def needs_runs(spec: Mapping[str, Any]) -> list[str]:
    """The labels of the extra runs an item spec needs (e.g. ["sync-reference"])."""
    fn = ITEMS.get(spec.get("item", ""))
    if fn is None:
        return []
    return [RUN_PARAMETERS[p] for p in inspect.signature(fn).parameters if p in RUN_PARAMETERS]


def check_specs(specs: list[Mapping[str, Any]]) -> None:
    """Raise ConfigError naming the problem for any spec that is not {"item": known, **its parameters}."""
    for i, spec in enumerate(specs):
        if not isinstance(spec, Mapping) or "item" not in spec:
            raise ConfigError(f"checklist spec #{i} must be a mapping with an 'item' key, got {spec!r}")
        fn = ITEMS.get(spec["item"])
        if fn is None:
            raise ConfigError(f"unknown checklist item {spec['item']!r}; allowed: {', '.join(ITEMS)}")
        params = [p for p in list(inspect.signature(fn).parameters.values())[2:] if p.name not in RUN_PARAMETERS]
        allowed = {p.name for p in params}
        unknown = set(spec) - allowed - {"item"}
        if unknown:
            raise ConfigError(f"checklist item {spec['item']!r} has no parameter {', '.join(sorted(unknown))}; "
                              f"allowed: {', '.join(sorted(allowed)) or 'none'}")
        missing = [p.name for p in params if p.default is inspect.Parameter.empty and p.name not in spec]
        if missing:
            raise ConfigError(f"checklist item {spec['item']!r} needs {', '.join(missing)}")


def evaluate_checklist(specs: list[Mapping[str, Any]], baseline: RunResult,
                       experimental: RunResult, runs: Mapping[str, RunResult] | None = None) -> list[ChecklistItem]:
    """The ChecklistItems of `specs`, in order (a spec may yield more than one item). runs: further
    runs by label, for the items that compare against one (RUN_PARAMETERS); an item whose run is
    missing fails and says so."""
    check_specs(specs)
    runs = runs or {}
    items: list[ChecklistItem] = []
    for spec in specs:
        params = {k: v for k, v in spec.items() if k != "item"}
        fn = ITEMS[spec["item"]]
        for p in inspect.signature(fn).parameters:
            if p in RUN_PARAMETERS:
                params[p] = runs.get(RUN_PARAMETERS[p])
        out = fn(baseline, experimental, **params)
        items.extend(out if isinstance(out, list) else [out])
    return items


def all_passed(items: list[ChecklistItem]) -> bool:
    return bool(items) and all(i.passed for i in items)
