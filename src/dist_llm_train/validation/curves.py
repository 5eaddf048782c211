"""Reading an evaluation curve: its axes and the point where the loss first reaches a target.

A run's curve is the list of evaluation points the runtime recorded (step, virtual_time, samples,
bytes_up, bytes_down, loss, ...). "How long did it take to reach loss L" is answered on any of its
axes by the first crossing, interpolated linearly between the two evaluation points around it:
evaluation is sparse (every N steps), and reading off the next evaluation point would charge a run
up to N steps it did not need, which differs between runs evaluated on different grids.
"""

from __future__ import annotations

import math

from dist_llm_train.errors import PreconditionError

#: axes a curve can be read on; "bytes" is the cumulative bytes_up + bytes_down
AXES = ("step", "samples", "samples_processed", "virtual_time", "bytes")


def axis_value(point: dict, axis: str) -> float | None:
    """The x coordinate of one curve point on `axis` (None when the point lacks it)."""
    if axis not in AXES:
        raise PreconditionError(f"unknown curve axis {axis!r}; allowed: {', '.join(AXES)}")
    if axis == "bytes":
        up, down = point.get("bytes_up"), point.get("bytes_down")
        return None if up is None or down is None else float(up + down)
    v = point.get(axis)
    return None if v is None else float(v)


def series(curve: list[dict], axis: str, metric: str = "loss") -> tuple[list[float], list[float]]:
    """(x, y) of the points that have both a finite x on `axis` and a finite `metric`."""
    xs, ys = [], []
    for p in curve:
        x, y = axis_value(p, axis), p.get(metric)
        if x is None or y is None or not math.isfinite(x) or not math.isfinite(float(y)):
            continue
        xs.append(x)
        ys.append(float(y))
    return xs, ys


def first_crossing(curve: list[dict], target: float, axis: str = "step", metric: str = "loss") -> float | None:
    """The x on `axis` at which `metric` first falls to `target` or below, or None if it never does.

    Between the last point above the target and the first point at or below it, x is interpolated
    linearly in the metric. A curve that starts at or below the target crosses at its first x.
    """
    xs, ys = series(curve, axis, metric)
    for i, (x, y) in enumerate(zip(xs, ys)):
        if y > target:
            continue
        if i == 0:
            return x
        x0, y0 = xs[i - 1], ys[i - 1]
        return x0 + (x - x0) * (y0 - target) / (y0 - y)  # y0 > target >= y, so y0 - y > 0
    return None


def sample_axis(*curves: list[dict]) -> str:
    """"samples_processed" (every sequence the workers computed on, the sample budget the runs share)
    when every given curve records it, else "samples" (the sequences in applied updates)."""
    has = all(curve and all("samples_processed" in p for p in curve) for curve in curves)
    return "samples_processed" if has else "samples"


def initial_value(curve: list[dict], metric: str = "loss") -> float | None:
    """The metric at the first curve point that has it (the evaluation before any update)."""
    for p in curve:
        if p.get(metric) is not None:
            return float(p[metric])
    return None
