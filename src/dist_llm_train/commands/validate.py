"""`dist-llm-train validate SUITE [--preset quick|full] [--out DIR] [--set key=value ...]`."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("validate", help="run a validation suite: baseline vs the full system, with a report")
    p.add_argument("suite", choices=["gpt2", "finetune", "bert-mlm", "wan", "scaling", "robustness"])
    p.add_argument("--preset", default="quick",
                   help="quick: minutes on 2 CPU cores; full: hours or a GPU; ci (gpt2): the short cut CI reruns; "
                        "mini (bert-mlm): a small BERT from random init")
    p.add_argument("--out", default=None, help="output directory (default runs/validate-SUITE-PRESET)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a key in every run of the suite, e.g. --set model=smollm2-135m")
    p.add_argument("--variants", action="store_true", help="also run the suite's extra variants (e.g. DiLoCo)")
    p.add_argument("--variant", dest="variant_names", action="append", default=[], metavar="NAME",
                   help="run only this variant of the suite (repeatable; implies --variants), "
                        "e.g. --variant diloco-powersgd")
    p.add_argument("--reuse", action="store_true",
                   help="read back runs already finished in the output directory with the same configuration "
                        "instead of running them again (resume a suite that stopped part way)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--check-golden", action="store_true",
                   help="compare the final metrics with the stored golden results and fail if they drift")
    g.add_argument("--update-golden", action="store_true",
                   help="store this run's final metrics as the golden results (do this on purpose, then commit)")
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

        golden = "check" if args.check_golden else "update" if args.update_golden else None
        summary = run_suite(args.suite, args.preset, out, args.overrides, golden=golden,
                            with_variants=args.variants or bool(args.variant_names),
                            variants=args.variant_names or None, reuse=args.reuse)
    print(f"report: {summary['report']}")
    failed = [c for c in summary.get("checklist", []) if not c["passed"]]
    from dist_llm_train.validation.report_tables import fmt_measured

    for c in summary.get("checklist", []):
        unit = c.get("unit", "")
        print(f"  [{'PASS' if c['passed'] else 'FAIL'}] {c['name']}: {fmt_measured(c['measured'], unit)} "
              f"(threshold {c['comparison']} {fmt_measured(c['threshold'], unit)})")
    if summary.get("golden_written"):
        print(f"golden results written to {summary['golden_written']}")
    problems = summary.get("golden_problems") or []
    for p in problems:
        print(f"  [GOLDEN] {p}")
    return 1 if failed or problems else 0
