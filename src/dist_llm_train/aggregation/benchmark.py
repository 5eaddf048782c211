"""Speed of every aggregation rule on d = 124M (GPT-2 small), n = 5 and 10, against a plain mean and a Gram product.

All inputs are allocated once ([10, d] fp32 = 5 GB; n = 5 uses its first rows). Each rule runs
once to warm up (this also compiles the fused coordinate-wise kernels) and is then timed; the
table prints seconds and ratios to the `mean` rule and to one Gram-matrix product (torch.mm(X, X^T),
the issue's reference) measured in the same run; the batched chunked Gram that Krum-type rules
actually use (distances.gram_matrix, about one mean here) is timed too and printed as "x bgram",
the stricter reference. Targets: median / trimmed mean <= 3x mean, Krum / Multi-Krum <= 2x one
Gram product, Bulyan <= 5x mean. `--out DIR` writes the same table as results.md and every row as
results.json.

f per rule and n: the largest f the rule tolerates with n inputs, capped at 2 (the issue's n = 10,
f = 2 setting), since the cost of Krum-type rules and Bulyan depends on f. A rule that cannot
tolerate even f = 1 at this n (Bulyan needs n >= 4f + 3, so n >= 7) is not timed at a degenerate
f = 0, which would measure a different, trivially cheap computation: its row says so instead.
`mean` ignores f and runs with f = 0.

Chunked loops allocate and free the same sizes over and over; if glibc's malloc returns them to the
system each time, page faults dominate. Run with MALLOC_MMAP_THRESHOLD_=8589934592 and
MALLOC_TRIM_THRESHOLD_=8589934592 in the environment to keep them (the benchmark says if unset).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import torch

from dist_llm_train.aggregation.distances import gram_matrix
from dist_llm_train.aggregation.registry import available_aggregators, make_aggregator

TARGETS = {"median": ("mean", 3.0), "trimmed_mean": ("mean", 3.0), "krum": ("gram", 2.0),
           "multikrum": ("gram", 2.0), "bulyan": ("mean", 5.0)}


def add_arguments(p) -> None:
    p.add_argument("--d", type=int, default=124_000_000, help="update length (default: GPT-2 small, 124M)")
    p.add_argument("--n", default="5,10", help="comma-separated numbers of updates")
    p.add_argument("--rules", default=",".join(available_aggregators()), help="comma-separated rules")
    p.add_argument("--repeats", type=int, default=1, help="timed runs per rule (the best is kept)")
    p.add_argument("--quick", action="store_true", help="small d (4M) for a fast check")
    p.add_argument("--out", type=Path, default=None, help="write results.md and results.json here")


def largest_f(rule: str, n: int, cap: int = 2) -> int | None:
    """The largest f <= cap the rule tolerates with n inputs; None if a robust rule cannot tolerate f = 1.

    `mean` is not robust and ignores f: 0.
    """
    if rule == "mean":
        return 0
    agg = make_aggregator(rule)
    feasible = [f for f in range(1, cap + 1) if n >= agg.min_inputs(f)]
    return max(feasible) if feasible else None


def _time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _measure_rule(rule: str, n: int, x: torch.Tensor, base: dict, repeats: int) -> dict:
    """Time one rule at its largest feasible f on the first n rows; a row of results.json."""
    f = largest_f(rule, n)
    row = {"rule": rule, "n": n, "f": f, "seconds": None, "x_mean": None, "x_gram": None, "x_bgram": None,
           "target": None, "met": None, "notes": ""}
    if rule in TARGETS:
        ref, limit = TARGETS[rule]
        row["target"] = f"<= {limit:g}x {ref}"
    if f is None:
        need = make_aggregator(rule).min_inputs(1)
        row["notes"] = f"not timed: cannot tolerate f >= 1 at n = {n} (needs n >= {need})"
        return row
    agg = make_aggregator(rule, f=f)
    try:
        out = agg(x)  # warm-up (compiles fused kernels on first use)
    except Exception as exc:  # report and go on: one rule must not hide the others
        row["notes"] = f"failed: {exc}"
        row["failed"] = True
        return row
    if hasattr(agg, "reset"):
        agg.reset()
    sec = _time(lambda: agg(x), repeats)
    row.update(seconds=sec, x_mean=sec / base["mean"], x_gram=sec / base["gram"], x_bgram=sec / base["bgram"])
    if rule in TARGETS:
        ref, limit = TARGETS[rule]
        row["met"] = sec / base[ref] <= limit
    row["notes"] = ", ".join(f"{k}={out.info[k]}" for k in ("kernel", "iterations") if k in out.info)
    return row


def _line(r: dict) -> str:
    f = "-" if r["f"] is None else r["f"]
    if r["seconds"] is None:
        return f"{r['rule']:<15}{f:>3}{'-':>10}{'-':>9}{'-':>9}{'-':>9}  {r['target'] or '':<22} {r['notes']}"
    target = "" if r["target"] is None else f"{r['target']}: {'met' if r['met'] else 'MISSED'}"
    return (f"{r['rule']:<15}{f:>3}{r['seconds']:>10.3f}{r['x_mean']:>9.2f}{r['x_gram']:>9.2f}{r['x_bgram']:>9.2f}  "
            f"{target:<22} {r['notes']}")


def _num(v: float | None, digits: int) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def markdown(res: dict) -> str:
    """results.md: one table per n, with the same-run baselines."""
    lines = [f"Aggregation speed: d = {res['d']:,} fp32, threads = {res['threads']}; seconds are the best of "
             f"{res['repeats']} timed run(s) after a warm-up. f = the largest f the rule tolerates at n (capped at 2).",
             ""]
    for b in res["baselines"]:
        n = b["n"]
        lines += [f"**n = {n}**: mean {b['mean']:.3f} s, one Gram product torch.mm(X, X^T) {b['gram']:.3f} s, "
                  f"batched chunked Gram {b['bgram']:.3f} s", "",
                  "| rule | f | seconds | x mean | x gram | x bgram | target | met | notes |",
                  "|---|---:|---:|---:|---:|---:|---|---|---|"]
        for r in (r for r in res["rows"] if r["n"] == n):
            met = "" if r["met"] is None else ("yes" if r["met"] else "NO")
            lines.append(f"| {r['rule']} | {'-' if r['f'] is None else r['f']} | {_num(r['seconds'], 3)} | "
                         f"{_num(r['x_mean'], 2)} | {_num(r['x_gram'], 2)} | {_num(r.get('x_bgram'), 2)} | "
                         f"{r['target'] or ''} | {met} | {r['notes']} |")
        lines.append("")
    return "\n".join(lines)


def run(args) -> int:
    d = 4_000_000 if args.quick else args.d
    ns = [int(v) for v in str(args.n).split(",")]
    rules = [r.strip() for r in str(args.rules).split(",") if r.strip()]
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        print("note: MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ unset; chunked loops may page-fault (see docs)")
    print(f"aggregation speed: d = {d:,}, n = {ns}, threads = {torch.get_num_threads()}")
    t0 = time.perf_counter()
    x_all = torch.empty(max(ns), d)
    g = torch.Generator().manual_seed(0)
    for i in range(max(ns)):
        x_all[i].normal_(generator=g)
    print(f"inputs allocated and filled in {time.perf_counter() - t0:.1f} s ({x_all.numel() * 4 / 2**30:.1f} GiB)")
    res = {"d": d, "threads": torch.get_num_threads(), "repeats": args.repeats, "baselines": [], "rows": []}
    for n in ns:
        x = x_all[:n]
        base = {"mean": _time(lambda x=x: make_aggregator("mean")(x), max(args.repeats, 2)),
                "gram": _time(lambda x=x: torch.mm(x, x.t()), args.repeats),
                "bgram": _time(lambda x=x: gram_matrix(x), args.repeats)}
        res["baselines"].append({"n": n, **base})
        print(f"\nn = {n}: mean {base['mean']:.3f} s, one Gram product torch.mm(X, X^T) {base['gram']:.3f} s, "
              f"batched chunked Gram {base['bgram']:.3f} s")
        print(f"{'rule':<15}{'f':>3}{'seconds':>10}{'x mean':>9}{'x gram':>9}{'x bgram':>9}  target   kernel / notes")
        for rule in rules:
            row = _measure_rule(rule, n, x, base, args.repeats)
            res["rows"].append(row)
            print(_line(row), flush=True)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.md").write_text(markdown(res))
        (args.out / "results.json").write_text(json.dumps(res, indent=1))
        print(f"wrote {args.out / 'results.md'} and {args.out / 'results.json'}")
    return 1 if any(r.get("failed") for r in res["rows"]) else 0
