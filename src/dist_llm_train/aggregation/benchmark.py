"""Speed of every aggregation rule on d = 124M (GPT-2 small), n = 5 and 10, against a plain mean and a Gram product.

All inputs are allocated once ([10, d] fp32 = 5 GB; n = 5 uses its first rows). Each rule runs
once to warm up (this also compiles the fused coordinate-wise kernels) and is then timed; the
table prints seconds and ratios to the `mean` rule and to one Gram-matrix product (torch.mm(X, X^T))
measured in the same run. Targets: median / trimmed mean <= 3x mean, Krum / Multi-Krum <= 2x one
Gram product, Bulyan <= 5x mean.

Chunked loops allocate and free the same sizes over and over; if glibc's malloc returns them to the
system each time, page faults dominate. Run with MALLOC_MMAP_THRESHOLD_=8589934592 and
MALLOC_TRIM_THRESHOLD_=8589934592 in the environment to keep them (the benchmark says if unset).
"""

from __future__ import annotations

import os
import time

import torch

from dist_llm_train.aggregation.registry import available_aggregators, make_aggregator

TARGETS = {"median": ("mean", 3.0), "trimmed_mean": ("mean", 3.0), "krum": ("gram", 2.0),
           "multikrum": ("gram", 2.0), "bulyan": ("mean", 5.0)}


def add_arguments(p) -> None:
    p.add_argument("--d", type=int, default=124_000_000, help="update length (default: GPT-2 small, 124M)")
    p.add_argument("--n", default="5,10", help="comma-separated numbers of updates")
    p.add_argument("--rules", default=",".join(available_aggregators()), help="comma-separated rules")
    p.add_argument("--repeats", type=int, default=1, help="timed runs per rule (the best is kept)")
    p.add_argument("--quick", action="store_true", help="small d (4M) for a fast check")


def largest_f(rule: str, n: int) -> int:
    """The largest f the rule tolerates with n inputs (capped at 2)."""
    agg = make_aggregator(rule)
    best = 0
    for f in range(1, 3):
        if n >= agg.min_inputs(f) and rule != "mean":
            best = f
    return best


def _time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


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
    ok = True
    for n in ns:
        x = x_all[:n]
        base = {"mean": _time(lambda x=x: make_aggregator("mean")(x), max(args.repeats, 2)),
                "gram": _time(lambda x=x: torch.mm(x, x.t()), args.repeats)}
        print(f"\nn = {n}: mean {base['mean']:.3f} s, one Gram product torch.mm(X, X^T) {base['gram']:.3f} s")
        print(f"{'rule':<15}{'f':>3}{'seconds':>10}{'x mean':>9}{'x gram':>9}  target   kernel / notes")
        for rule in rules:
            f = largest_f(rule, n)
            agg = make_aggregator(rule, f=f)
            try:
                out = agg(x)  # warm-up (compiles fused kernels on first use)
            except Exception as exc:  # report and go on: one rule must not hide the others
                print(f"{rule:<15}{f:>3}  failed: {exc}")
                ok = False
                continue
            if hasattr(agg, "reset"):
                agg.reset()
            sec = _time(lambda agg=agg, x=x: agg(x), args.repeats)
            target = ""
            if rule in TARGETS:
                ref, limit = TARGETS[rule]
                ratio = sec / base[ref]
                target = f"<= {limit:g}x {ref}: {'met' if ratio <= limit else 'MISSED'}"
            notes = ", ".join(f"{k}={out.info[k]}" for k in ("kernel", "iterations") if k in out.info)
            print(f"{rule:<15}{f:>3}{sec:>10.3f}{sec / base['mean']:>9.2f}{sec / base['gram']:>9.2f}  "
                  f"{target:<22} {notes}")
    return 0 if ok else 1
