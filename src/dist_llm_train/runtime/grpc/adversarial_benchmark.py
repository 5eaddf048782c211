"""Training under attack: the same real run on loopback with and without a hostile authenticated worker.

Each run is `serve` and three honest gpt2-tiny `worker` processes (LocalCluster, one torch thread
each); in an attacked run a fourth process, holding worker 3's valid token, runs every attack of
adversary.py from the first server step to the end (stalled pushes, unread pulls and long polls,
floods of every method, pushes of 3e38, oversized and forged strings, wrong tokens). What is
compared, run by run: server steps per minute (from the first step to the last), the final
validation loss, the server's peak resident memory, and what the server refused. Attack-free runs
are repeated, so their spread is the run-to-run noise the attacked runs' losses are held against.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from dist_llm_train.config import load_config
from dist_llm_train.runtime.grpc.launcher import LocalCluster

BASE = {
    "seed": 0,
    "model": {"name": "gpt2-tiny", "init": "random"},
    "data": {"corpus": "shakespeare", "seq_len": 32, "batch_size": 4},
    "optimizer": {"name": "adamw", "lr": 0.003, "warmup_steps": 3, "schedule": "cosine", "min_lr_ratio": 0.1},
    "network": {"preset": "lan", "num_workers": 4},  # workers 0-2 are honest, worker 3's token is the attacker's
    "runtime": {"kind": "local", "torch_threads": 1, "heartbeat_interval": 0.5, "heartbeat_misses": 6,
                "drop_floor_seconds": 3.0, "min_workers": 3},
}
HONEST = (0, 1, 2)
ATTACKER = 3


def add_arguments(p) -> None:
    p.add_argument("--steps", type=int, default=90, help="server steps per run (default 90)")
    p.add_argument("--repeats", type=int, default=2, help="runs of each kind (default 2)")
    p.add_argument("--flood-threads", type=int, default=1, help="attacker threads per flooded method")
    p.add_argument("--timeout", type=float, default=900.0, help="give up on a run after this many seconds")
    p.add_argument("--out", default="bench_out/adversarial", help="folder for results.json and the run directories")


def bench_config(name: str, steps: int):
    cfg = json.loads(json.dumps(BASE))
    cfg.update(name=name, max_server_steps=steps, eval={"every_steps": max(1, steps // 3), "max_eval_tokens": 2048})
    return load_config(cfg)


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def one_run(out: Path, name: str, steps: int, attacked: bool, timeout: float, flood_threads: int = 1) -> dict:
    cfg = bench_config(name, steps)
    run_dir = out / name
    adversary = None
    peak = [0.0]
    with LocalCluster(cfg, run_dir) as cluster:
        cluster.start_server()
        for w in HONEST:
            cluster.start_worker(w)
        done = threading.Event()

        def sample_memory() -> None:
            while not done.wait(0.5):
                peak[0] = max(peak[0], _rss_mb(cluster.server.pid))

        sampler = threading.Thread(target=sample_memory, daemon=True)
        sampler.start()
        deadline = time.monotonic() + timeout
        try:
            while not any(e.get("event") == "step" for e in cluster.events()):
                if cluster.server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{name}: training did not start:\n" + cluster.tail("server.log"))
                time.sleep(0.2)
            if attacked:
                report = cluster.logs / "adversary.json"
                adversary = subprocess.Popen(
                    [sys.executable, "-m", "dist_llm_train.runtime.grpc.adversary", "--server",
                     f"127.0.0.1:{cluster.port}", "--worker-id", str(ATTACKER), "--token-file",
                     str(cluster.token_dir / f"worker-{ATTACKER}.token"), "--duration", str(timeout),
                     "--flood-threads", str(flood_threads), "--report", str(report)],
                    stdout=subprocess.DEVNULL, stderr=open(cluster.logs / "adversary.log", "ab"),  # noqa: SIM115
                    env=cluster.env)
            code = cluster.wait_server(max(1.0, deadline - time.monotonic()))
        finally:
            done.set()
            if adversary is not None and adversary.poll() is None:
                adversary.terminate()
                try:
                    adversary.wait(30)
                except subprocess.TimeoutExpired:
                    adversary.kill()
                    adversary.wait()
        cluster.wait_workers(60)
        status = cluster.status()
        events = cluster.events()
    steps_ev = [e for e in events if e.get("event") == "step"]
    evals = [e for e in events if e.get("event") == "eval"]
    span = steps_ev[-1]["time"] - steps_ev[0]["time"] if len(steps_ev) > 1 else float("nan")
    log_text = (run_dir / "logs" / "server.log").read_text(errors="replace")
    return {
        "name": name, "attacked": attacked, "exit_code": code, "state": status["state"], "steps": status["version"],
        "steps_per_min": round(60 * (steps_ev[-1]["version"] - steps_ev[0]["version"]) / span, 2),
        "final_loss": round(evals[-1]["loss"], 4) if evals else None, "first_loss": round(evals[0]["loss"], 4),
        "peak_rss_mb": round(peak[0], 1), "refused": status.get("refused", {}), "guard": status.get("guard", {}),
        "dropped": status.get("dropped", {}), "server_log_bytes": len(log_text),
        "server_log_lines": log_text.count("\n"), "longest_log_line": max(map(len, log_text.splitlines()), default=0),
    }


def run(args) -> int:
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    results = []
    for i in range(args.repeats):
        for attacked in (False, True):
            name = f"{stamp}-{'attacked' if attacked else 'clean'}-{i}"
            r = one_run(out, name, args.steps, attacked, args.timeout, args.flood_threads)
            results.append(r)
            print(json.dumps(r), flush=True)
    (out / f"results-{stamp}.json").write_text(json.dumps(results, indent=1))
    print("\n| run | steps/min | final loss | peak server RSS MB | server log lines | refused |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for r in results:
        print(f"| {r['name']} | {r['steps_per_min']} | {r['final_loss']} | {r['peak_rss_mb']} | "
              f"{r['server_log_lines']} | {r['refused']} |")
    return 0
