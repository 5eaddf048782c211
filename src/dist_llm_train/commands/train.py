"""`dist-llm-train train CONFIG [--set k=v ...] [--runtime sim|local]`: one run, a progress bar, a summary."""

from __future__ import annotations

from pathlib import Path

from dist_llm_train.config import load_config


def register(sub) -> None:
    p = sub.add_parser("train", help="train with one configuration (simulator by default)")
    p.add_argument("config", nargs="?", default=None, help="YAML file or preset name")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--runtime", choices=["sim", "local"], default=None,
                   help="sim: virtual-clock simulator; local: a real server and worker processes on loopback")
    p.add_argument("--out", default=None, help="run directory (default: out_dir/name)")
    p.add_argument("--resume", action="store_true",
                   help="simulator: continue from the newest intact checkpoint in the run directory")
    p.set_defaults(func=run)


def run(args) -> int:
    from rich.console import Console

    from dist_llm_train.controller.main_controller import MainController
    from dist_llm_train.controller.summary_table import summary_table

    overrides = list(args.overrides)
    if args.runtime:
        overrides.append(f"runtime.kind={args.runtime}")
    cfg = load_config(args.config, overrides)
    console = Console(stderr=True)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TextColumn("{task.fields[status]}"), TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task(cfg.name, total=cfg.max_server_steps, status="")

        def on_eval(point: dict) -> None:
            status = f"loss {point.get('loss', float('nan')):.4f}"
            if point.get("perplexity") is not None:
                status += f"  ppl {point['perplexity']:.2f}"
            if point.get("mlm_accuracy") is not None:
                status += f"  mlm-acc {point['mlm_accuracy']:.3f}"
            progress.update(task, completed=point["step"], status=status)

        ctl = MainController(cfg, run_dir=Path(args.out) if args.out else None, on_eval=on_eval,
                             resume=args.resume)
        result = ctl.run()
        progress.update(task, completed=result.server_steps)
    Console().print(summary_table(result))
    print(f"run directory: {result.run_dir}")
    return 0
