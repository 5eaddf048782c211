"""Markdown tables of the quality benchmark: loss relative to the attack-free mean, run-to-run noise,
the strongest attack per rule (only when above noise), and filtering against ground truth.

Kept apart from the runner so that a table can be rebuilt from a saved aggregation_quality.json
(`python -m dist_llm_train.aggregation.quality_report OUT/aggregation_quality.json`).

Noise: the attack-free mean run is repeated with other seeds (other initial weights, warm start and
data order); `noise` is the largest |loss_seed / loss_baseline - 1| among them. A cell's damage is
its score minus the same rule's attack-free score at the same f; an attack is named the strongest
for a rule only when that damage exceeds NOISE_FACTOR x noise, otherwise the column says so.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import fields
from pathlib import Path

from dist_llm_train.aggregation.quality_benchmark import F_INDEPENDENT, N_WORKERS, Setup

NOISE_FACTOR = 2.0


def _key(results: list[dict], seed: int) -> dict:
    return {(r["rule"], r["attack"], r["f"]): r for r in results if r.get("seed", seed) == seed}


def noise_level(results: list[dict], baseline: dict) -> tuple[float | None, list[float]]:
    """Largest relative deviation of the other seeds' attack-free mean runs from the baseline run
    (None when no other seed was run: then no attack can be told apart from noise)."""
    others = [r["loss"] / baseline["loss"] for r in results
              if (r["rule"], r["attack"], r["f"]) == ("mean", "none", 0) and r.get("seed") != baseline.get("seed")]
    finite = [v for v in others if math.isfinite(v)]
    return (max(abs(v - 1) for v in finite) if finite else None, others)


def _attack_free(by: dict, rule: str, f: int) -> dict | None:
    r = by.get((rule, "none", f))
    if r is None and rule in F_INDEPENDENT:
        r = by.get((rule, "none", 0))
    return r


def _score(r: dict | None, baseline: float) -> float | None:
    if r is None:
        return None
    return math.inf if not math.isfinite(r["loss"]) else r["loss"] / baseline


def _cell(score: float | None) -> str:
    return "-" if score is None else ("diverged" if math.isinf(score) else f"{score:.3f}")


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.0f}"


def strongest(scores: dict[str, float], clean: float | None, band: float | None) -> str:
    """The attack with the largest damage over the rule's attack-free score, if that damage exceeds band
    (band None: noise not measured, so the largest damage is shown but not called the strongest)."""
    if not scores or clean is None:
        return "-"
    attack, worst = max(scores.items(), key=lambda kv: kv[1])
    damage = worst - clean
    if band is None:
        return f"not judged, noise not measured (max: {attack})"
    if damage > band:
        return attack if math.isinf(worst) else f"{attack} (+{damage:.3f})"
    return f"none above noise (max +{max(damage, 0):.3f})"


def markdown(results: list[dict], setup: Setup, attacks: list[str], rules: list[str], fs: list[int]) -> str:
    by = _key(results, setup.seed)
    base = by[("mean", "none", 0)]
    baseline = base["loss"]
    noise, others = noise_level(results, base)
    band = None if noise is None else NOISE_FACTOR * noise
    seeds = ", ".join(f"{v:.3f}" for v in others)
    lines = [
        f"Final held-out loss relative to the attack-free `mean` run (loss {baseline:.3f}; the warm start it begins "
        f"from: {base['initial_loss']:.3f}; untrained: ln 256 = {math.log(256):.3f}). n = {N_WORKERS} workers, the "
        f"last f Byzantine. Each run: {setup.warm_steps} attack-free Adam steps (lr {setup.warm_lr:g}, shared warm "
        f"start), then {setup.steps} server steps of SGD (lr {setup.lr:g}, momentum {setup.momentum:g}) on the "
        f"rule's aggregate; GPT-2 {setup.layers} layers x {setup.width}, context {setup.context}, batch "
        f"{setup.batch} per worker, byte-level KJV text, same batches in every run. gaussian std and random "
        f"half-width = {setup.attack_scale:g} x the honest gradients' RMS per coordinate.",
        "",
        (f"**Noise**: the attack-free mean with other seeds scores {seeds} (noise = {noise:.3f}); an attack is named "
         f"the strongest for a rule only when it adds more than {NOISE_FACTOR:g} x noise = {band:.3f} to the rule's "
         f"own attack-free score ('none' column)." if noise is not None else
         "**Noise**: not measured (no other seed run), so no attack is named the strongest.")
        + f" Lower is better; '-' = precondition not met for n = {N_WORKERS}.",
        "",
    ]
    for f in fs:
        cols = [] if f == 0 else attacks
        head = ["rule", "none", *cols] + (["strongest attack"] if f else [])
        lines += [f"**f = {f}**", "", "| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
        for rule in rules:
            clean = _score(_attack_free(by, rule, f), baseline)
            scores = {a: s for a in cols if (s := _score(by.get((rule, a, f)), baseline)) is not None}
            row = [_cell(clean)] + [_cell(scores.get(a)) for a in cols]
            tail = [strongest(scores, clean, band) if scores else "-"] if f else []
            lines.append("| " + " | ".join([rule] + row + tail) + " |")
        lines.append("")
    lines += filtering_tables(by, attacks, rules, [f for f in fs if f > 0])
    return "\n".join(lines)


def filtering_tables(by: dict, attacks: list[str], rules: list[str], fs: list[int]) -> list[str]:
    """Per cell 'B/H': % of Byzantine inputs and % of honest inputs with trust 0 (filtered), over all rounds."""
    if not fs:
        return []
    lines = ["**Filtering** (per cell B/H: % of Byzantine inputs filtered / % of honest inputs filtered, i.e. trust "
             "0, over all rounds; Krum keeps one input, so it filters most honest ones by design; coordinate-wise "
             "rules, geomed and centered clipping down-weight rather than filter, so they show 0/0)", ""]
    for f in fs:
        lines += [f"f = {f}", "", "| rule | " + " | ".join(attacks) + " |", "|---" * (len(attacks) + 1) + "|"]
        for rule in rules:
            cells = []
            for a in attacks:
                r = by.get((rule, a, f))
                cells.append("-" if r is None else f"{_pct(r['filtered_byzantine'])}/{_pct(r['filtered_honest'])}")
            lines.append(f"| {rule} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def main(path: str) -> int:
    data = json.loads(Path(path).read_text())
    known = {f.name for f in fields(Setup)}
    setup = Setup(**{k: v for k, v in data["setup"].items() if k in known})
    print(markdown(data["results"], setup, data["attacks"], data["rules"], data["f"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
