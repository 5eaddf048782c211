"""Run a suite: the baseline and the experimental run on the same model, data, seed and sample
budget, then the checklist, the report, the plots and results.json in one directory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from dist_llm_train.config import load_config
from dist_llm_train.controller.main_controller import MainController
from dist_llm_train.controller.run_result import RunResult
from dist_llm_train.errors import ConfigError
from dist_llm_train.validation.checklist import check_specs, needs_runs
from dist_llm_train.validation.report import machine_description
from dist_llm_train.validation.suites import Suite, get_suite


def selected_variants(suite: Suite, names: list[str] | None) -> list[str]:
    """The variants to run: all of the suite's when names is None, else those named, in the suite's
    order. An unknown name is a ConfigError that lists the suite's variants."""
    if names is None:
        return list(suite.variants)
    unknown = [n for n in names if n not in suite.variants]
    if unknown:
        have = ", ".join(suite.variants) or "none"
        raise ConfigError(f"suite {suite.name!r} has no variant {', '.join(map(repr, unknown))}; its variants: {have}")
    return [n for n in suite.variants if n in names]


def needs_sync_reference(suite: Suite) -> bool:
    return any("sync-reference" in needs_runs(spec) for spec in suite.checks)


def suite_configs(suite: Suite, overrides: list[str], variants: list[str] | None = None):
    """Validated RunConfigs of the suite's runs (all variants, or those named), with the user's --set
    applied to every one."""
    base = load_config(suite.baseline, overrides)
    exp = load_config(suite.experimental, overrides)
    cfgs = {k: load_config(suite.variants[k], overrides) for k in selected_variants(suite, variants)}
    return base, exp, cfgs


def reference_configs(suite: Suite, overrides: list[str]) -> dict:
    """The reference runs the checklist compares the experimental run with (label -> RunConfig): the
    synchronous reference when an item needs it, else none."""
    if needs_sync_reference(suite):
        return {"sync-reference": load_config(suite.sync_reference, overrides)}
    return {}


def run_suite(
    name: str,
    preset: str = "quick",
    out: str | Path = "runs/validate",
    overrides: list[str] | None = None,
    with_variants: bool = False,
    log: Callable[[str], None] = print,
    golden: str | None = None,
    variants: list[str] | None = None,
    reuse: bool = False,
) -> dict:
    """Run the suite and write its report. with_variants: also run the suite's variants, all of them
    or (variants) those named. golden: None, "check" (compare with the stored golden results) or
    "update" (store this run's figures as the new golden results). reuse: a run whose directory
    under `out` already holds a finished run of exactly this configuration is read back instead of
    run again (a suite stopped part way, e.g. killed, resumes at its first unfinished run)."""
    suite = get_suite(name, preset)
    check_specs(suite.checks)  # a typo in a checklist fails now, not after hours of training
    for specs in suite.variant_checks.values():
        check_specs(specs)
    base_cfg, exp_cfg, variant_cfgs = suite_configs(suite, overrides or [], variants if with_variants else [])
    refs = reference_configs(suite, overrides or [])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, RunResult] = {}
    todo = [("baseline", base_cfg), ("experimental", exp_cfg), *refs.items(), *variant_cfgs.items()]
    for label, cfg in todo:
        if label == "sync-reference":
            cfg = stop_at_target(cfg, results["baseline"], suite)
        log(f"[{name}/{preset}] running {label}: {cfg.model.name}, {cfg.sync.mode}, codec {cfg.compression.codec}, "
            f"rule {cfg.aggregation.rule} f={cfg.aggregation.f}, budget {cfg.max_samples} samples")
        done = finished_run(out / label, cfg) if reuse else None
        if done is not None:
            log(f"[{name}/{preset}] {label}: reusing the finished run in {out / label} (same configuration)")
            results[label] = done
            continue
        results[label] = MainController(cfg, run_dir=out / label).run()
        release_memory()  # the next run builds its own model and buffers: give this one's back first
        r = results[label]
        log(f"[{name}/{preset}] {label}: loss {r.final.get('loss'):.4f} after {r.server_steps} steps, "
            f"{r.wall_time:.0f} s wall")
    from dist_llm_train.validation import golden as golden_mod
    from dist_llm_train.validation.assemble import assemble_report

    date = dt.date.today().isoformat()
    summary = assemble_report(suite, preset, out, results, date=date, machine=machine_description())
    core = {k: results[k] for k in ("baseline", "experimental")}
    if golden == "update":
        summary["golden_written"] = str(golden_mod.write_golden(name, preset, core, date, machine_description()))
    elif golden == "check":
        summary["golden_problems"] = golden_mod.compare_golden(name, preset, core)
    return summary


def stop_at_target(cfg, baseline: RunResult, suite: Suite):
    """The synchronous reference only has to show when it reaches the baseline's target loss: it stops
    there (eval.target_loss) instead of spending the whole budget. Unchanged when the baseline has no
    finite final loss (the item then fails on its own)."""
    from dist_llm_train.errors import DistLLMError
    from dist_llm_train.validation import figures as fig

    spec = next((s for s in suite.checks if s.get("item") == "faster_with_async"), {})
    try:
        target = fig.target_loss_for(baseline, spec.get("target_loss"), float(spec.get("margin", 0.02)))
    except DistLLMError:
        return cfg
    return cfg.model_copy(update={"eval": cfg.eval.model_copy(update={"target_loss": target})})


def release_memory() -> None:
    """Collect the finished run's objects and hand the freed heap back to the system (glibc's
    malloc_trim), so that the next run of a suite starts from the same memory as the first: on a
    24 GiB machine the fine-tuning suite's experimental run does not fit beside the baseline's
    leftovers. A no-op where there is no glibc."""
    import contextlib
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def finished_run(run_dir: Path, cfg) -> RunResult | None:
    """The RunResult in run_dir/summary.json when it is a finished run of exactly `cfg`, else None."""
    import json

    path = Path(run_dir) / "summary.json"
    if not path.is_file():
        return None
    try:
        done = RunResult.load(path)
    except (OSError, ValueError, TypeError, KeyError):
        return None
    same = json.loads(json.dumps(cfg.model_dump(mode="json"))) == done.config
    return done if same else None
