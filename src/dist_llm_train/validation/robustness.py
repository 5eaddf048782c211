"""The robustness suite: f = 0..3 Byzantine workers of 10, each attack against each main rule, final
perplexity relative to the attack-free run of the same rule.

Synchronous rounds of all 10 workers (K = 10), so every rule sees the same inputs and the attacks are
the strongest form (omniscient ones see every honest update of the round). A cell is
perplexity(rule, attack, f) / perplexity(rule, no attack): 1.00 means the attack did nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

from dist_llm_train.aggregation import check_precondition
from dist_llm_train.config import load_config
from dist_llm_train.controller.main_controller import MainController
from dist_llm_train.errors import ConfigError, PreconditionError
from dist_llm_train.validation.report_tables import markdown_table

ROBUSTNESS_PRESETS = {
    "quick": {"f": [1, 3], "attacks": ["sign_flip", "alie", "ipm"],
              "rules": ["mean", "median", "multikrum", "centered_clip"], "steps": 12, "model": "gpt2-tiny",
              "seq_len": 32, "batch_size": 2, "max_eval_tokens": 2048},  # 28 runs: ~12 minutes on 2 shared cores
    "full": {"f": [1, 2, 3], "attacks": ["sign_flip", "gaussian", "scaled", "zero", "random", "alie", "ipm",
                                         "label_flip"],
             "rules": ["mean", "median", "trimmed_mean", "krum", "multikrum", "geomed", "centered_clip"],
             "steps": 150, "model": "gpt2-tiny", "seq_len": 64, "batch_size": 8, "max_eval_tokens": 16384},
}
N_WORKERS = 10


def _config(p: dict, rule: str, f: int, attack: str | None, overrides):
    """`f` Byzantine workers running `attack`; robust rules are set to tolerate the largest f of the
    preset in every run, so that only the attack changes between a row's cells."""
    cfg = {
        "name": f"{rule}-{attack or 'none'}-f{f}", "seed": 0, "max_server_steps": p["steps"],
        "model": {"name": p["model"]},
        "data": {"corpus": "wiki", "seq_len": p["seq_len"], "batch_size": p["batch_size"]},
        "optimizer": {"name": "adamw", "lr": 2e-3, "warmup_steps": 3},
        "worker": {"clip_norm": 1.0},
        "sync": {"mode": "sync"},
        "network": {"preset": "lan", "num_workers": N_WORKERS},
        "aggregation": {"rule": rule, "f": 0 if rule == "mean" else max(p["f"])},
        "byzantine": {"count": f if attack else 0, "attack": attack or "sign_flip"},
        "eval": {"every_steps": p["steps"], "max_eval_tokens": p["max_eval_tokens"]},
    }
    return load_config(cfg, overrides)


def run_robustness(preset: str, out: str | Path, overrides: list[str] | None = None, log=print) -> dict:
    if preset not in ROBUSTNESS_PRESETS:
        raise ConfigError(f"suite 'robustness' has no preset {preset!r}; allowed: {', '.join(ROBUSTNESS_PRESETS)}")
    p = ROBUSTNESS_PRESETS[preset]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    clean: dict[str, float] = {}
    cells: dict[tuple[str, str, int], float | None] = {}
    for rule in p["rules"]:
        try:
            check_precondition(rule, n=N_WORKERS, f=max(p["f"]) if rule != "mean" else 0)
        except PreconditionError as exc:
            log(f"[robustness] skipping {rule}: {exc}")
            continue
        r = MainController(_config(p, rule, 0, None, overrides), run_dir=out / f"{rule}-clean",
                           save_weights=False).run()
        clean[rule] = r.final["perplexity"]
        log(f"[robustness] {rule} without attack: perplexity {clean[rule]:.1f}")
        for attack in p["attacks"]:
            for f in p["f"]:
                r = MainController(_config(p, rule, f, attack, overrides), run_dir=out / f"{rule}-{attack}-f{f}",
                                   save_weights=False).run()
                ppl = r.final.get("perplexity")
                cells[(rule, attack, f)] = ppl / clean[rule] if ppl is not None and math.isfinite(ppl) else None
                log(f"[robustness] {rule} vs {attack} f={f}: perplexity x{cells[(rule, attack, f)]}")
    headers = ["rule", *[f"{a} f={f}" for a in p["attacks"] for f in p["f"]], "strongest attack"]
    rows, records = [], []
    for rule in clean:
        vals = [cells.get((rule, a, f)) for a in p["attacks"] for f in p["f"]]
        worst = max(((v if v is not None else math.inf), a, f) for (v, (a, f)) in
                    zip(vals, [(a, f) for a in p["attacks"] for f in p["f"]]))
        rows.append([rule, *[f"{v:.2f}" if v is not None else "diverged" for v in vals],
                     f"{worst[1]} (f={worst[2]})"])
        records.append({"rule": rule, "clean_perplexity": clean[rule],
                        "relative_perplexity": {f"{a}:f={f}": cells.get((rule, a, f)) for a in p["attacks"]
                                                for f in p["f"]},
                        "strongest_attack": {"attack": worst[1], "f": worst[2]}})
    table = markdown_table(headers, rows)
    report = out / "report.md"
    report.write_text(
        f"# Robustness: {N_WORKERS} workers, {p['model']}, {p['steps']} synchronous steps "
        f"({dt.date.today().isoformat()})\n\nEach cell: final perplexity relative to the same rule without "
        f"attack (1.00 = no effect). Every robust rule is set to tolerate f = {max(p['f'])} in every "
        f"run; the columns vary how many workers actually attack.\n\n{table}\n")
    (out / "results.json").write_text(json.dumps({"suite": "robustness", "preset": preset, "rows": records},
                                                 indent=1))
    return {"report": str(report), "checklist": [], "rows": records}
