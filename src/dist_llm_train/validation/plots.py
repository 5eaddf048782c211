"""The report's PNG plots, drawn with matplotlib's Agg backend (no display needed).

Loss is drawn against three costs, because "converges like the baseline" has three meanings that
can disagree: per sample (statistical efficiency: does staleness or compression waste data?), per
virtual second (wall-clock speed on the simulated machines: does async use slow workers better?),
and per byte sent (communication efficiency: what compression buys, on a log axis since the runs
differ by orders of magnitude).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from dist_llm_train.controller.run_result import RunResult  # noqa: E402
from dist_llm_train.validation import figures as fig  # noqa: E402
from dist_llm_train.validation.curves import sample_axis, series  # noqa: E402

_LABELS = {"samples": "samples (sequences processed)", "samples_processed": "samples (sequences processed)",
           "virtual_time": "virtual time (s)", "bytes": "bytes sent, up + down (cumulative)", "step": "server step"}
_STYLE = {"baseline": {"color": "tab:gray", "marker": "o"}, "experimental": {"color": "tab:blue", "marker": "s"}}


def _save(f, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    f.tight_layout()
    f.savefig(path, dpi=110)
    plt.close(f)
    return path


def plot_loss(baseline: RunResult, experimental: RunResult, axis: str, path: str | Path,
              target_loss: float | None = None) -> Path:
    """Validation loss of both runs against `axis` ("samples", "virtual_time" or "bytes")."""
    curve_axis = sample_axis(baseline.curve, experimental.curve) if axis == "samples" else axis
    f, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, run in (("baseline", baseline), ("experimental", experimental)):
        xs, ys = series(run.curve, curve_axis)
        if axis == "bytes":  # the evaluation before training has sent nothing: no place on a log axis
            xs, ys = [x for x in xs if x > 0], [y for x, y in zip(xs, ys) if x > 0]
        name = label if run.name == label else f"{label} ({run.name})"
        ax.plot(xs, ys, label=name, markersize=3, **_STYLE[label])
    if target_loss is not None:
        ax.axhline(target_loss, color="tab:red", linestyle="--", linewidth=1, label=f"target {target_loss:.3f}")
    if axis == "bytes":
        ax.set_xscale("log")
    ax.set_xlabel(_LABELS[curve_axis])
    ax.set_ylabel("validation loss")
    ax.set_title(f"loss vs {_LABELS[curve_axis].split(' (')[0]}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return _save(f, Path(path))


def _region_colors(regions: list[str]) -> dict[str, str]:
    cmap = plt.get_cmap("tab10")
    return {r: cmap(i % 10) for i, r in enumerate(sorted(set(regions)))}


def plot_staleness(run: RunResult, path: str | Path) -> Path:
    """Histogram of observed staleness (accepted and rejected updates), stacked by region."""
    regions = sorted(set(run.worker_regions)) or [""]
    colors = _region_colors(regions)
    hists = {r: fig.staleness_histogram(run, r) for r in regions}
    taus = sorted({t for h in hists.values() for t in h})
    f, ax = plt.subplots(figsize=(6.4, 4.2))
    bottom = [0] * len(taus)
    for r in regions:
        counts = [hists[r].get(t, 0) for t in taus]
        ax.bar(taus, counts, width=0.9, bottom=bottom, label=r or "all", color=colors.get(r))
        bottom = [b + c for b, c in zip(bottom, counts)]
    st = fig.staleness_summary(run)
    ax.set_xlabel("staleness (server steps behind)")
    ax.set_ylabel("updates")
    ax.set_title(f"{run.name}: staleness (p50 {st['p50']}, p90 {st['p90']}, max {st['max']})")
    ax.grid(True, axis="y", alpha=0.3)
    if len(regions) > 1:
        ax.legend(fontsize=8, title="region")
    return _save(f, Path(path))


def plot_acceptance(run: RunResult, path: str | Path) -> Path:
    """Acceptance rate per worker, coloured by region; Byzantine workers hatched and marked (B)."""
    rows = fig.worker_table(run)
    colors = _region_colors([w["region"] for w in rows])
    f, ax = plt.subplots(figsize=(max(6.4, 0.45 * len(rows) + 2), 4.2))
    xs = list(range(len(rows)))
    bars = ax.bar(xs, [w["acceptance_rate"] for w in rows], color=[colors[w["region"]] for w in rows])
    for bar, w in zip(bars, rows):
        if w["byzantine"]:
            bar.set_hatch("//")
            bar.set_edgecolor("black")
    ax.set_xticks(xs, [w["name"] + (" (B)" if w["byzantine"] else "") for w in rows], rotation=60, ha="right",
                  fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accepted / submitted")
    ax.set_title(f"{run.name}: acceptance per worker (overall {run.acceptance_rate:.1%})")
    ax.grid(True, axis="y", alpha=0.3)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colors.values()]
    ax.legend(handles, list(colors), fontsize=7, title="region", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(f, Path(path))


def write_plots(out_dir: str | Path, baseline: RunResult, experimental: RunResult,
                target_loss: float | None = None) -> dict[str, Path]:
    """All plots of a validation report into out_dir; name -> PNG path."""
    out = Path(out_dir)
    return {
        "loss_vs_samples": plot_loss(baseline, experimental, "samples", out / "loss_vs_samples.png", target_loss),
        "loss_vs_virtual_time": plot_loss(baseline, experimental, "virtual_time", out / "loss_vs_virtual_time.png",
                                          target_loss),
        "loss_vs_bytes": plot_loss(baseline, experimental, "bytes", out / "loss_vs_bytes.png", target_loss),
        "staleness": plot_staleness(experimental, out / "staleness.png"),
        "acceptance": plot_acceptance(experimental, out / "acceptance_per_worker.png"),
    }
