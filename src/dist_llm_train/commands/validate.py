"""`dist-llm-train validate SUITE [--preset quick|full] [--out DIR] [--set key=value ...]`."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("validate", help="run a validation suite: baseline vs the full system, with a report")
    p.add_argument("suite", choices=["gpt2", "bert-mlm", "wan", "scaling", "robustness"])
    p.add_argument("--preset", choices=["quick", "full"], default="quick")
    p.add_argument("--out", default=None, help="output directory (default runs/validate-SUITE-PRESET)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a key in every run of the suite, e.g. --set model=smollm2-135m")
    p.add_argument("--variants", action="store_true", help="also run the suite's extra variants (e.g. DiLoCo)")
    p.add_argument("--check-golden", action="store_true",
                   help="compare the final metrics with the stored golden results and fail if they drift")
    p.set_defaults(func=run)


def run(args) -> int:
    out = args.out or f"runs/validate-{args.suite}-{args.preset}"
    if args.suite == "scaling":
        from dist_llm_train.validation.scaling import run_scaling

        summary = run_scaling(args.preset, out, args.overrides)
    elif args.suite == "robustness":
        from dist_llm_train.validation.robustness import run_robustness

        summary = run_robustness(args.preset, out, args.overrides)
    else:
        from dist_llm_train.validation.runner import run_suite

        summary = run_suite(args.suite, args.preset, out, args.overrides, with_variants=args.variants)
    print(f"report: {summary['report']}")
    failed = [c for c in summary.get("checklist", []) if not c["passed"]]
    for c in summary.get("checklist", []):
        print(f"  [{'PASS' if c['passed'] else 'FAIL'}] {c['name']}: {c['measured']} (threshold {c['threshold']})")
    return 1 if failed else 0
