"""GPT-2 small validation (test 1 of the validation guide), written the way the guide's template
asks for it, through the public API: MainController, ParameterServer, BoundedAsyncCoordinator.

    python validation/validate_gpt2_small.py                  # GPT-2 small: pretrained if you have the
                                                              # weights (HF cache or --weights DIR), else random init
    python validation/validate_gpt2_small.py --model gpt2-mini --steps 120   # a CPU-sized run

The baseline is synchronous, uncompressed, homogeneous, plain mean; the experimental run is async
with adaptive staleness, top-k 5% with error feedback, Multi-Krum (f = 1) with one Byzantine worker,
and gradient clipping 1.0. Both see the same data, seed and number of server steps.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from dist_llm_train.controller.main_controller import MainController
from dist_llm_train.models import build_model
from dist_llm_train.sync.parameter_server import BoundedAsyncCoordinator, ParameterServer
from dist_llm_train.validation.checklist import all_passed, evaluate_checklist


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="gpt2-small")
    ap.add_argument("--weights", default=None, help="directory with GPT-2 weights (config.json + safetensors)")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--out", default="runs/validate_gpt2_small")
    args = ap.parse_args(argv)

    # The guide's configuration dict, as a user brings it.
    config = {
        "model_name": args.model,
        "dataset": "wiki",
        "num_workers": 5,
        "batch_size": args.batch_size,
        "seq_len": args.seq_len,
        "learning_rate": 5e-4,
        "max_steps": args.steps,
        "use_async": True,
        "max_staleness": 50,
        "adaptive_staleness": True,
        "compression": "topk",
        "compression_ratio": 0.05,
        "aggregation_rule": "multikrum",
        "krum_f": 1,
        "gradient_clip_norm": 1.0,
        "enable_dp": False,
    }
    init = {"model.path": args.weights} if args.weights else {}

    print(f"Loading {args.model}...")
    built = build_model(args.model, path=args.weights)
    print(f"Model size: {built.num_params / 1e6:.1f}M parameters")

    # The guide's objects, built exactly as the template does.
    initial_state = {name: p.clone().detach() for name, p in built.module.named_parameters()}
    ps = ParameterServer(initial_model_state=initial_state)
    coordinator = BoundedAsyncCoordinator(num_workers=config["num_workers"], max_staleness=config["max_staleness"],
                                          adaptive_staleness=config["adaptive_staleness"])
    print(f"Parameter server: {ps.layout}, version {ps.version}; coordinator buffer {coordinator.buffer_size}")

    out = Path(args.out)
    print("\n=== Baseline Training (Synchronous, No Compression) ===")
    base_cfg = {**config, "use_async": False, "compression": "none", "aggregation_rule": "mean", "krum_f": 0}
    baseline = MainController(base_cfg, overrides=init, run_dir=out / "baseline").run()
    print(f"  Final loss: {baseline.final['loss']:.4f}   Perplexity: {baseline.final['perplexity']:.2f}")

    print("\n=== Distributed Training (Async + Compression + Byzantine Defense) ===")
    overrides = {**init, "byzantine.count": 1, "byzantine.attack": "sign_flip"}
    experimental = MainController(config, overrides=overrides, run_dir=out / "experimental").run()
    print(f"  Final loss: {experimental.final['loss']:.4f}   Perplexity: {experimental.final['perplexity']:.2f}")

    # The trained weights come back as a state dict a ParameterServer (or transformers) can load.
    trained = ParameterServer(initial_model_state=load_file(str(out / "experimental" / "model.safetensors")))
    moved = float((trained.params - ps.params).norm())
    print(f"  Parameters moved by {moved:.3f} (L2) from the initial model")

    checks = [
        {"item": "perplexity_within", "threshold": 0.10},
        {"item": "no_divergence"},
        {"item": "acceptance_above", "threshold": 0.80},
        {"item": "uplink_reduction_above", "threshold": 10.0},
        {"item": "byzantine_filtered", "threshold": 1.0, "max_false_positive_rate": 0.05},
    ]
    items = evaluate_checklist(checks, baseline, experimental)
    print("\n=== Validation Checklist ===")
    for it in items:
        print(f"[{'x' if it.passed else ' '}] {it.name}: {it.measured} (threshold {it.threshold})")
    torch.set_num_threads(torch.get_num_threads())
    return 0 if all_passed(items) else 1


if __name__ == "__main__":
    sys.exit(main())
