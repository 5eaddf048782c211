"""Forward+backward throughput and peak memory of every model preset, 1 vs 2 threads.

Each (preset, threads) measurement runs in a fresh subprocess so its peak RSS is its own and
thread settings cannot leak between cases. Presets whose pretrained weights are absent are
measured with their random-init architecture (the cost is the same) and say so. Throughputs are
also printed as ratios to gpt2-tiny at 1 thread measured in the same run, since the machine is
shared and absolute numbers drift.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

QUICK = ["gpt2-tiny", "gpt2-mini", "bert-tiny", "bert-mini"]
BASELINE = "gpt2-tiny"


def add_arguments(parser) -> None:
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}, fewer steps")
    parser.add_argument("--presets", nargs="*", help="presets to measure (default: all)")
    parser.add_argument("--batch-size", type=int, default=8, help="sequences per step (data.batch_size default)")
    parser.add_argument("--seq-len", type=int, default=128, help="tokens per sequence (data.seq_len default)")
    parser.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--steps", type=int, default=None, help="timed steps per case (default 3, quick 2)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one preset in this process


def _measure_one(preset: str, threads: int, batch: int, seq_len: int, steps: int) -> dict:
    """Runs inside the child process: build, warm up once, time `steps` fwd+bwd, report peak RSS."""
    import resource

    import torch

    from dist_llm_train.errors import ResourceNotFoundError
    from dist_llm_train.models import build_model

    torch.set_num_threads(threads)
    note = ""
    try:
        built = build_model(preset, init="auto")
    except ResourceNotFoundError as exc:
        built, note = build_model(preset, init="random"), f"weights absent ({exc}); random init"
    if built.init == "random" and built.notes:
        note = "pretrained weights absent: measured the random-init architecture"
    seq = min(seq_len, built.max_seq_len)
    module = built.module
    module.train()
    x = torch.randint(0, built.vocab_size, (batch, seq))
    labels = x.clone()
    if built.kind == "mlm":
        labels[torch.rand(x.shape) > 0.15] = -100
    times = []
    for i in range(steps + 1):
        t = time.perf_counter()
        module.zero_grad(set_to_none=True)
        module(input_ids=x, labels=labels).loss.backward()
        if i > 0:
            times.append(time.perf_counter() - t)
    best = min(times)
    return {
        "preset": preset,
        "threads": threads,
        "params_m": built.num_params / 1e6,
        "init": built.init,
        "batch": batch,
        "seq_len": seq,
        "step_s": best,
        "tokens_per_s": batch * seq / best,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "note": note,
    }


def _child(preset: str, threads: int, batch: int, seq_len: int, steps: int) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "dist_llm_train.models.benchmark",
        "--one",
        preset,
        "--threads",
        str(threads),
        "--batch-size",
        str(batch),
        "--seq-len",
        str(seq_len),
        "--steps",
        str(steps),
    ]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        return {"preset": preset, "threads": threads, "error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _row(r: dict, base: dict | None) -> str:
    if "error" in r:
        return f"{r['preset']:14} {r['threads']:>3}  failed: {r['error']}"
    ratio = r["tokens_per_s"] / base["tokens_per_s"] if base else float("nan")
    note = f"  ({r['note']})" if r["note"] else ""
    return (
        f"{r['preset']:14} {r['threads']:>3} {r['params_m']:>7.1f}M {r['init']:>10} {r['step_s']:>8.3f} "
        f"{r['tokens_per_s']:>9.0f} {ratio:>7.3f} {r['peak_rss_mb']:>8.0f}{note}"
    )


def run(args) -> int:
    if args.one:
        print(json.dumps(_measure_one(args.one, args.threads[0], args.batch_size, args.seq_len, args.steps or 3)))
        return 0
    from dist_llm_train.models import available_models

    presets = args.presets or (QUICK if args.quick else available_models())
    steps = args.steps or (2 if args.quick else 3)
    presets = [BASELINE, *[p for p in presets if p != BASELINE]]
    print(
        f"fwd+bwd, batch {args.batch_size} x seq {args.seq_len}, best of {steps} steps; ratio = tokens/s vs "
        f"{BASELINE} at {args.threads[0]} thread(s) in this run"
    )
    print(f"{'preset':14} {'thr':>3} {'params':>8} {'init':>10} {'step s':>8} {'tok/s':>9} {'ratio':>7} {'peak MB':>8}")
    results, base = [], None
    for p in presets:  # the baseline comes first, so every row can show its ratio as soon as it is measured
        for t in args.threads:
            r = _child(p, t, args.batch_size, args.seq_len, steps)
            results.append(r)
            if base is None and r["preset"] == BASELINE and "error" not in r:
                base = r
            print(_row(r, base), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    add_arguments(p)
    sys.exit(run(p.parse_args()))
