"""Codec speed and size on a GPT-2-small-sized vector, as ratios to a copy measured in the same run.

For each codec: encode and decode time, bytes on the wire, compression ratio against fp32 dense,
and throughput, next to two baselines timed in the same process (the machine is shared and
noisy): a plain copy of the vector into a preallocated buffer, and torch.topk(abs(x), k) for the
top-k codecs. The vector has the parameter shapes of GPT-2 small (124,439,808 entries, built from
transformers' GPT2Config() without downloading anything) filled with normal values whose scale
varies per tensor, as gradients do. `--quick` uses a 1/16-width model (about 8M entries).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch

from dist_llm_train.compression.registry import decode_bytes, make_codec
from dist_llm_train.compression.topk import TopKSelector
from dist_llm_train.layout import ParamLayout

DEFAULT_CODECS = ["none", "fp16", "bf16", "sign", "qsgd:127", "qsgd:7", "topk:0.01", "topk:0.01:approx",
                  "topk:0.01+fp16", "topk:0.01+bf16", "randomk:0.01+fp16", "powersgd:4", "powersgd:4+fp16"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="small vector (~8M entries) instead of 124M")
    p.add_argument("--codecs", default=",".join(DEFAULT_CODECS), help="comma-separated codec specs")
    p.add_argument("--repeats", type=int, default=3, help="timed repetitions (the best is reported)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = leave the default)")
    p.add_argument("--out", type=Path, default=None, help="write results.md and results.json here")
    p.add_argument("--seed", type=int, default=0)


def gpt2_layout(quick: bool) -> ParamLayout:
    """GPT-2 small's parameter shapes (tied LM head), from GPT2Config() when transformers is present."""
    try:
        from transformers import GPT2Config

        cfg = GPT2Config()
        vocab, pos, dim, layers = cfg.vocab_size, cfg.n_positions, cfg.n_embd, cfg.n_layer
    except ImportError:
        vocab, pos, dim, layers = 50257, 1024, 768, 12
    if quick:
        vocab, dim, layers = vocab // 4, dim // 4, layers // 2
    shapes = [("wte", (vocab, dim)), ("wpe", (pos, dim))]
    for i in range(layers):
        h = f"h.{i}."
        shapes += [(h + "ln_1.weight", (dim,)), (h + "ln_1.bias", (dim,)),
                   (h + "attn.c_attn.weight", (dim, 3 * dim)), (h + "attn.c_attn.bias", (3 * dim,)),
                   (h + "attn.c_proj.weight", (dim, dim)), (h + "attn.c_proj.bias", (dim,)),
                   (h + "ln_2.weight", (dim,)), (h + "ln_2.bias", (dim,)),
                   (h + "mlp.c_fc.weight", (dim, 4 * dim)), (h + "mlp.c_fc.bias", (4 * dim,)),
                   (h + "mlp.c_proj.weight", (4 * dim, dim)), (h + "mlp.c_proj.bias", (dim,))]
    shapes += [("ln_f.weight", (dim,)), ("ln_f.bias", (dim,))]
    return ParamLayout(shapes)


def gradient_like(layout: ParamLayout, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    flat = torch.empty(layout.numel)
    for s in layout:
        scale = 1e-3 * math.exp(float(torch.randn((), generator=g)))  # per-tensor scales spread ~e^+-1
        flat[s.offset : s.end].normal_(0.0, scale, generator=g)
    return flat


def best_time(fn, repeats: int) -> float:
    fn()  # warm-up: first touches of buffers, lazy allocations
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = fn()
        best = min(best, time.perf_counter() - t0)
        del res
    return best


def measure(args) -> dict:
    if args.threads:
        torch.set_num_threads(args.threads)
    layout = gpt2_layout(args.quick)
    x = gradient_like(layout, args.seed)
    d = x.numel()
    dense_bytes = 4 * d
    buf = torch.empty(d)
    out = torch.empty(d)
    copy_s = best_time(lambda: buf.copy_(x), args.repeats)
    k = round(0.01 * d)
    topk_s = best_time(lambda: torch.topk(x.abs(), k, sorted=False), 1)
    rows = []
    for spec in [s.strip() for s in args.codecs.split(",") if s.strip()]:
        codec = make_codec(spec, layout=layout, seed=args.seed)
        enc_s = best_time(lambda c=codec: c.encode(x), args.repeats)
        enc = codec.encode(x)
        dec_s = best_time(lambda c=codec, e=enc: c.decode(e, out=out), args.repeats)
        data = enc.to_bytes()
        assert len(data) == enc.wire_bytes
        tob_s = best_time(lambda e=enc: e.to_bytes(), args.repeats)
        remote_s = best_time(lambda b=data: decode_bytes(b, expected_numel=d, layout=layout, out=out), args.repeats)
        row = {"codec": codec.spec, "wire_bytes": enc.wire_bytes, "ratio_vs_fp32": dense_bytes / enc.wire_bytes,
               "encode_ms": 1e3 * enc_s, "decode_ms": 1e3 * dec_s, "to_bytes_ms": 1e3 * tob_s,
               "decode_bytes_ms": 1e3 * remote_s, "encode_vs_copy": enc_s / copy_s, "decode_vs_copy": dec_s / copy_s,
               "encode_GBps": dense_bytes / enc_s / 1e9, "decode_GBps": dense_bytes / dec_s / 1e9}
        sel = getattr(codec, "selector", None)
        if isinstance(sel, TopKSelector):
            row["achieved_ratio"] = sel.last_count / d
            row["speedup_vs_torch_topk"] = topk_s / enc_s
        rows.append(row)
        del enc, data
    return {"numel": d, "tensors": len(layout), "threads": torch.get_num_threads(), "copy_ms": 1e3 * copy_s,
            "copy_GBps": dense_bytes / copy_s / 1e9, "torch_topk_1pct_ms": 1e3 * topk_s, "k_1pct": k, "rows": rows,
            "checks": targets(rows, d, k)}


def targets(rows: list[dict], d: int, k: int) -> list[dict]:
    by = {r["codec"]: r for r in rows}
    checks = []

    def check(name, ok_value, limit, passed):
        checks.append({"target": name, "value": round(ok_value, 3), "limit": limit, "met": bool(passed)})

    for spec in ("fp16", "bf16"):
        if spec in by:
            check(f"{spec} encode / copy", by[spec]["encode_vs_copy"], "<= 2", by[spec]["encode_vs_copy"] <= 2)
    if "topk:0.01:approx" in by:
        r = by["topk:0.01:approx"]
        speedup = r["speedup_vs_torch_topk"]
        check("torch.topk / approx top-k 1% encode", speedup, ">= 10", speedup >= 10)
        err = abs(r["achieved_ratio"] - 0.01) / 0.01
        check("approx top-k achieved ratio error", err, "<= 0.1", err <= 0.1)
    if "qsgd:127:512" in by:
        r = by["qsgd:127:512"]
        check("qsgd:127 (8-bit) encode / copy", r["encode_vs_copy"], "<= 5", r["encode_vs_copy"] <= 5)
    if "topk:0.01+fp16" in by:
        ideal = (k * 16 + k * math.log2(d / k)) / 8
        rel = by["topk:0.01+fp16"]["wire_bytes"] / ideal
        check("topk:0.01+fp16 wire / (k*16 + k*log2(d/k)) bits", rel, "<= 1.3", rel <= 1.3)
    return checks


def markdown(res: dict) -> str:
    lines = [f"Vector: {res['numel']:,} fp32 entries ({res['tensors']} tensors, GPT-2 small shapes), "
             f"{res['threads']} torch threads.",
             f"Baselines in the same run: copy into a preallocated buffer {res['copy_ms']:.1f} ms "
             f"({res['copy_GBps']:.1f} GB/s); torch.topk(abs(x), k=1%) {res['torch_topk_1pct_ms']:.0f} ms.", "",
             "| codec | wire MB | ratio vs fp32 | encode ms | x copy | decode ms | x copy | encode GB/s | "
             "to_bytes ms | decode_bytes ms | notes |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in res["rows"]:
        notes = ""
        if "achieved_ratio" in r:
            notes = f"kept {100 * r['achieved_ratio']:.3f}%, {r['speedup_vs_torch_topk']:.0f}x faster than torch.topk"
        lines.append(f"| `{r['codec']}` | {r['wire_bytes'] / 1e6:.2f} | {r['ratio_vs_fp32']:.1f} | "
                     f"{r['encode_ms']:.0f} | {r['encode_vs_copy']:.1f} | {r['decode_ms']:.0f} | "
                     f"{r['decode_vs_copy']:.1f} | "
                     f"{r['encode_GBps']:.2f} | {r['to_bytes_ms']:.0f} | {r['decode_bytes_ms']:.0f} | {notes} |")
    lines += ["", "| target | value | limit | met |", "|---|---:|---|---|"]
    lines += [f"| {c['target']} | {c['value']} | {c['limit']} | {'yes' if c['met'] else 'NO'} |" for c in res["checks"]]
    return "\n".join(lines) + "\n"


def run(args) -> int:
    res = measure(args)
    text = markdown(res)
    print(text)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.md").write_text(text)
        (args.out / "results.json").write_text(json.dumps(res, indent=2))
        print(f"wrote {args.out / 'results.md'} and {args.out / 'results.json'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(p)
    return run(p.parse_args(argv))
