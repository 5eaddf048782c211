"""The scaling suite: 1, 5, 10 and 50 workers, speed-up and efficiency in virtual time to a target loss.

Data-parallel synchronous training with a fixed per-worker batch on a LAN: n workers process n
times the samples per step. The single worker's run sets the target (its loss at the end of its
budget); each larger run stops when it reaches that target. Speed-up = T(1) / T(n) in virtual
time, efficiency = speed-up / n.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from dist_llm_train.config import load_config
from dist_llm_train.controller.main_controller import MainController
from dist_llm_train.errors import ConfigError
from dist_llm_train.validation.curves import first_crossing

SCALING_PRESETS = {
    # the 50-worker run dominates (50 x 2 x 32 tokens a step); ~10 minutes on 2 shared cores
    "quick": {"workers": [1, 5, 10, 50], "model": "gpt2-tiny", "seq_len": 32, "batch_size": 2, "steps_1": 60,
              "eval_every": 5, "max_eval_tokens": 2048},
    "full": {"workers": [1, 5, 10, 50], "model": "gpt2-mini", "seq_len": 128, "batch_size": 16, "steps_1": 2000,
             "eval_every": 25, "max_eval_tokens": 32768},
}


def time_to_target(curve: list[dict], target: float, key: str = "virtual_time") -> float | None:
    return first_crossing(curve, target, axis=key)


def scaling_config(p: dict, n: int, steps: int, target: float | None, overrides: list[str]):
    cfg = {
        "name": f"scaling-{n}", "seed": 0, "max_server_steps": steps,
        "model": {"name": p["model"]},
        "data": {"corpus": "wiki", "seq_len": p["seq_len"], "batch_size": p["batch_size"]},
        "optimizer": {"name": "adamw", "lr": 2e-3, "warmup_steps": 5},
        "worker": {"clip_norm": 1.0},
        "sync": {"mode": "sync"},
        "network": {"preset": "lan", "num_workers": n},
        "eval": {"every_steps": p["eval_every"], "max_eval_tokens": p["max_eval_tokens"], "target_loss": target},
    }
    return load_config(cfg, overrides)


def run_scaling(preset: str, out: str | Path, overrides: list[str] | None = None, log=print) -> dict:
    from dist_llm_train.validation.report_tables import markdown_table

    if preset not in SCALING_PRESETS:
        raise ConfigError(f"suite 'scaling' has no preset {preset!r}; allowed: {', '.join(SCALING_PRESETS)}")
    p = SCALING_PRESETS[preset]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows, records = [], []
    one = MainController(scaling_config(p, 1, p["steps_1"], None, overrides or []), run_dir=out / "workers-1").run()
    target = one.final["loss"] * 1.001
    t1 = time_to_target(one.curve, target)
    log(f"[scaling] 1 worker: loss {one.final['loss']:.4f} at {one.virtual_time:.1f} s virtual; target {target:.4f}")
    for n in p["workers"]:
        r = one if n == 1 else MainController(
            scaling_config(p, n, p["steps_1"], target, overrides or []), run_dir=out / f"workers-{n}").run()
        tn = time_to_target(r.curve, target)
        speedup = t1 / tn if (t1 and tn) else None
        eff = speedup / n if speedup else None
        steps = time_to_target(r.curve, target, key="step")
        records.append({"workers": n, "time_to_target": tn, "steps_to_target": steps, "speedup": speedup,
                        "efficiency": eff, "final_loss": r.final["loss"], "wall_time": r.wall_time})
        rows.append([n, f"{tn:.2f}" if tn else "not reached", f"{steps:.1f}" if steps else "-",
                     f"{speedup:.2f}x" if speedup else "-", f"{eff:.0%}" if eff else "-", f"{r.final['loss']:.4f}"])
        log(f"[scaling] {n} workers: time to target {tn}, speed-up {speedup}")
    table = markdown_table(["workers", "virtual s to target", "server steps to target", "speed-up", "efficiency",
                            "final loss"], rows)
    report = out / "report.md"
    report.write_text(
        f"# Scaling: {p['model']}, sync data-parallel on a LAN ({dt.date.today().isoformat()})\n\n"
        f"Target loss {target:.4f} (the 1-worker run's final validation loss). Per-worker batch "
        f"{p['batch_size']} x {p['seq_len']} tokens; virtual time from the reference hardware profile.\n\n{table}\n")
    (out / "results.json").write_text(json.dumps({"suite": "scaling", "preset": preset, "target_loss": target,
                                                  "rows": records}, indent=1))
    return {"report": str(report), "checklist": [], "rows": records}
