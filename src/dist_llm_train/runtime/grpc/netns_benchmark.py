"""Shaped multi-region run: real `serve` + `worker` processes behind namespaced WAN links, against the simulator.

Why: the simulator's transfer and step times are a model; this measures what the real runtime does
over links shaped like the `multi-region` topology and prints both side by side, per worker.

Setup (network/netns.py): the server runs in a hub namespace on its loopback; each worker runs in
its own namespace, joined to the hub by a veth pair shaped with `tc tbf` (uplink on the worker's
end, downlink on the hub's) and dials a latency relay in the hub that adds the region's one-way
latency each way (the kernel has no netem). First a direct link check (RTT and throughput of
each link against its configuration), then training: gpt2-tiny, top-k 1% both ways with error
feedback, async with K = 1, a fixed number of server steps; then the simulator with the same
config and topology. The simulator's worker speed is calibrated from a single-process timing of
the same local step on this machine (so its compute stands for this CPU, uncontended); the gap
that remains is what the simulator does not model. Skips with the reason where namespaces cannot
be made.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import torch

from dist_llm_train.network.topology import PRESETS


def add_arguments(p) -> None:
    p.add_argument("--steps", type=int, default=60, help="server steps of the training run (default 60)")
    p.add_argument("--bandwidth-scale", type=float, default=1.0,
                   help="multiply every region's bandwidth by this (default 1: the topology as is)")
    p.add_argument("--skip-train", action="store_true", help="only the link check")
    p.add_argument("--timeout", type=float, default=600.0, help="give up on the real run after this many seconds")
    p.add_argument("--out", default="bench_out/netns", help="folder for results.json and the run directories")


def regions(scale: float) -> list[dict]:
    if not scale > 0:
        raise ValueError(f"--bandwidth-scale must be > 0, got {scale!r}")
    return [{"name": r["name"], "bandwidth": r["bandwidth"] * scale, "latency": r["latency"]}
            for r in PRESETS["multi-region"]]


def bench_config(steps: int, topo: list[dict], speed: float = 1.0, kind: str = "local") -> dict:
    """The run's config: `topo` is a list of {name, bandwidth (Mbps), latency (one-way ms)}, one worker each."""
    if steps < 1:
        raise ValueError(f"--steps must be >= 1, got {steps}")
    return {
        "name": "netns-multi-region",
        "seed": 0,
        "model": {"name": "gpt2-tiny", "init": "random"},
        "data": {"corpus": "shakespeare", "seq_len": 32, "batch_size": 4},
        "optimizer": {"name": "adamw", "lr": 0.003},
        "max_server_steps": steps,
        "network": {"preset": "custom", "workers": [{**r, "speed": speed} for r in topo]},
        "sync": {"mode": "async", "buffer_size": 1, "adaptive_staleness": True, "max_staleness": 50},
        "compression": {"codec": "topk:0.01", "error_feedback": True, "downlink": "topk:0.01"},
        "eval": {"every_steps": 100_000, "max_eval_tokens": 512},
        "runtime": {"kind": kind, "torch_threads": 1, "sim_threads": 1, "heartbeat_interval": 1.0,
                    "heartbeat_misses": 10, "drop_floor_seconds": 60.0},
    }


# -- 1. the link check ---------------------------------------------------------------------------
def link_check(lab) -> list[dict]:
    from dist_llm_train.network.link_probe import measure_link

    return [measure_link(lab, link, seconds=1.5) for link in lab.links]


# -- 2. calibration: this CPU's speed for the simulator -------------------------------------------
def calibrate_speed(cfg_dict: dict, rounds: int = 3) -> tuple[float, float]:
    """(speed factor against the reference hardware, seconds per local round) from timing worker 0's
    local step + encoding in this process on one thread: what the simulator charges as compute."""
    from dist_llm_train.config import load_config
    from dist_llm_train.network.link import HARDWARE_PROFILES, REFERENCE_PROFILE
    from dist_llm_train.runtime.grpc.assembly import build_worker_parts

    cfg = load_config(cfg_dict)
    parts = build_worker_parts(cfg, 0)
    params = parts.layout.flatten_module(parts.logic.module).clone()
    parts.logic.run(params, 0)  # warm-up
    times, tokens = [], 0
    for _ in range(rounds):
        t0 = time.perf_counter()
        msg = parts.logic.run(params, 0)
        times.append(time.perf_counter() - t0)
        tokens = msg.metrics["tokens"]
    seconds = statistics.median(times)
    flops = 6.0 * parts.layout.numel * tokens / seconds  # the simulator's compute model (MainController)
    return flops / HARDWARE_PROFILES[REFERENCE_PROFILE], seconds


# -- 3. the real run ------------------------------------------------------------------------------
def _cluster_class():
    from dist_llm_train.runtime.grpc.launcher import LocalCluster

    class NetnsCluster(LocalCluster):
        """LocalCluster with the server in the lab's hub and worker i in link i's namespace, via its relay."""

        def __init__(self, cfg, run_dir, lab):
            self.lab = lab
            self.relay_ports: dict[int, int] = {}
            super().__init__(cfg, run_dir, evaluate=False)

        def command_prefix(self, role: str) -> list[str]:
            ns = self.lab.hub if role == "server" else self.lab.links[int(role.split("-")[1])].netns
            return ["ip", "netns", "exec", ns]

        def worker_target(self, worker_id: int) -> str:
            link = self.lab.links[worker_id]
            if worker_id not in self.relay_ports:
                self.relay_ports[worker_id] = self.lab.start_relay(link, self.port)
            return f"{link.hub_ip}:{self.relay_ports[worker_id]}"

    return NetnsCluster


def real_run(cfg_dict: dict, lab, run_dir: Path, timeout: float) -> dict:
    from dist_llm_train.config import load_config

    cfg = load_config(cfg_dict)
    t0 = time.time()
    with _cluster_class()(cfg, run_dir, lab) as cluster:
        cluster.start()
        code = cluster.wait_server(timeout)
        cluster.wait_workers(60.0)
        if code != 0:
            raise RuntimeError(f"the parameter server exited with code {code}:\n{cluster.tail('server.log')}")
        status, reports, events = cluster.status(), cluster.worker_reports(), cluster.events()
    steps = [e for e in events if e["event"] == "step"]
    starts = [r["rounds"][0]["t"] for r in reports.values() if r["rounds"]]
    workers = {}
    for w, rep in sorted(reports.items()):
        rounds = rep["rounds"]
        workers[w] = _summarise(
            [{"down_s": r["pull_s"], "compute_s": r["compute_s"], "up_s": r["push_s"], "bytes_down": r["pull_bytes"],
              "bytes_up": r["push_bytes"], "full": r["pull_kind"] == "FULL"} for r in rounds],
            accepted=rep["accepted"])
    per = {w["worker_id"]: w for w in status["workers"]}
    for w, s in workers.items():
        s["server_bytes_up"], s["server_bytes_down"] = per[w]["bytes_up"], per[w]["bytes_down"]
    return {"workers": workers, "server_steps": status["version"], "wall_total_s": time.time() - t0,
            "train_s": (steps[-1]["time"] - min(starts)) if steps and starts else None}


def _summarise(rounds: list[dict], accepted: int) -> dict:
    """Per-worker means: the first round (full pull) apart, then the rest."""
    later = [r for r in rounds if not r["full"]]
    first = next((r for r in rounds if r["full"]), None)

    def mean(key, rs):
        return statistics.fmean(r[key] for r in rs) if rs else None

    return {
        "rounds": len(rounds), "accepted": accepted,
        "first_down_s": first["down_s"] if first else None, "first_bytes_down": first["bytes_down"] if first else None,
        "down_s": mean("down_s", later), "compute_s": mean("compute_s", rounds), "up_s": mean("up_s", rounds),
        "round_s": statistics.fmean(r["down_s"] + r["compute_s"] + r["up_s"] for r in later) if later else None,
        "bytes_down": sum(r["bytes_down"] for r in rounds), "bytes_up": sum(r["bytes_up"] for r in rounds),
        "mean_bytes_down": mean("bytes_down", later), "mean_bytes_up": mean("bytes_up", rounds),
    }


# -- 4. the simulator's prediction -----------------------------------------------------------------
def sim_run(cfg_dict: dict, run_dir: Path) -> dict:
    from dist_llm_train.controller.main_controller import MainController
    from dist_llm_train.metrics.event_log import read_events

    t0 = time.time()
    result = MainController(cfg_dict, run_dir=run_dir, save_weights=False).run()
    events = read_events(Path(run_dir) / "events.jsonl")
    pulls: dict[int, list[dict]] = {}
    accepted: dict[int, int] = {}
    if result.num_params <= 0:
        raise RuntimeError("the simulated run did not report its model size")
    dense = 4 * result.num_params  # a full fp32 copy; deltas are far smaller
    for e in events:
        if e["event"] == "pull":
            pulls.setdefault(e["worker"], []).append(
                {"down_s": e["t_down"], "compute_s": e["t_compute"], "up_s": e["t_up"], "bytes_down": e["bytes_down"],
                 "full": e["bytes_down"] >= dense})
        elif e["event"] == "push":
            w = e["worker"]
            accepted[w] = accepted.get(w, 0) + bool(e["accepted"])
            # a worker has one round in flight, so a push completes its oldest open pull
            next(p for p in pulls[w] if "bytes_up" not in p)["bytes_up"] = e["bytes_up"]
    workers = {}
    for w, rs in sorted(pulls.items()):
        done = [r for r in rs if "bytes_up" in r]  # the rounds whose update arrived before the end
        workers[w] = _summarise(done, accepted.get(w, 0))
    return {"workers": workers, "server_steps": result.server_steps, "virtual_s": result.virtual_time,
            "wall_total_s": time.time() - t0}


# -- the command ----------------------------------------------------------------------------------
def _ratio(a, b) -> str:
    return f"{a / b:.2f}" if a is not None and b else "-"


def _s(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def comparison_rows(names: list[str], real: dict, sim: dict) -> list[str]:
    lines = ["| worker | rounds real/sim | first pull s real / sim | pull s real / sim | compute s real / sim "
             "| push s real / sim | round s real / sim (ratio) | MB down real / sim | MB up real / sim |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for w, name in enumerate(names):
        r, s = real["workers"].get(w, {}), sim["workers"].get(w, {})
        lines.append(
            f"| {name} | {r.get('rounds', 0)} / {s.get('rounds', 0)} "
            f"| {_s(r.get('first_down_s'))} / {_s(s.get('first_down_s'))} "
            f"| {_s(r.get('down_s'))} / {_s(s.get('down_s'))} | {_s(r.get('compute_s'))} / {_s(s.get('compute_s'))} "
            f"| {_s(r.get('up_s'))} / {_s(s.get('up_s'))} "
            f"| {_s(r.get('round_s'))} / {_s(s.get('round_s'))} ({_ratio(r.get('round_s'), s.get('round_s'))}) "
            f"| {r.get('bytes_down', 0) / 1e6:.1f} / {s.get('bytes_down', 0) / 1e6:.1f} "
            f"| {r.get('bytes_up', 0) / 1e6:.2f} / {s.get('bytes_up', 0) / 1e6:.2f} |")
    return lines


def rpc_rows(topo: list[dict], real: dict) -> list[str]:
    """Each call is a request and a reply: 2 x latency + bytes / rate on the wire; the rest is CPU (both ends)."""
    lines = ["| worker | pull s real | pull wire (2 lat + bytes/rate) | push s real | push wire (2 lat + bytes/rate) |",
             "|---|---:|---:|---:|---:|"]
    for w, region in enumerate(topo):
        r = real["workers"].get(w, {})
        lat, rate = region["latency"] / 1000.0, region["bandwidth"] * 1e6 / 8
        wire_down = 2 * lat + r["mean_bytes_down"] / rate if r.get("mean_bytes_down") else None
        wire_up = 2 * lat + r["mean_bytes_up"] / rate if r.get("mean_bytes_up") else None
        lines.append(f"| {region['name']} | {_s(r.get('down_s'))} | {_s(wire_down)} | {_s(r.get('up_s'))} "
                     f"| {_s(wire_up)} |")
    return lines


def shaped_run(topo: list[dict], steps: int, out: Path, timeout: float = 600.0, train: bool = True,
               log=print) -> dict:
    """Link check, then (if `train`) calibration, the real run in namespaces and the simulator's run.

    Raises NetnsUnavailable when the lab cannot be built; every namespace and process is gone on return.
    """
    from dist_llm_train.network.netns import NetnsLab

    out.mkdir(parents=True, exist_ok=True)
    results: dict = {"date": time.strftime("%Y-%m-%d"), "topology": topo, "steps": steps}
    with NetnsLab() as lab:
        for r in topo:
            lab.add_link(r["name"], r["bandwidth"], r["bandwidth"], r["latency"])
        results["links"] = link_check(lab)
        log(f"link check ({len(lab.links)} links; tbf's rate counts Ethernet/IP/TCP headers, so TCP gets ~95%)")
        log(f"{'link':<14}{'RTT ms':>16}{'down Mbps':>22}{'up Mbps':>22}")
        for c in results["links"]:
            log(f"{c['link']:<14}{c['rtt_ms']:>8.1f} / {c['configured_rtt_ms']:<6.0f}"
                f"{c['down_mbps']:>12.1f} / {c['configured_down_mbps']:<7.0f}"
                f"{c['up_mbps']:>12.1f} / {c['configured_up_mbps']:<7.0f}")
        if not train:
            return results
        speed, local_s = calibrate_speed(bench_config(steps, topo))
        results["calibration"] = {"speed": speed, "local_round_s": local_s}
        log(f"calibration: one local round (gpt2-tiny, 4 x 32 tokens, top-k encode) takes {local_s:.3f} s on one "
            f"thread here = speed {speed:.4f} of the reference GPU")
        t0 = time.time()
        results["real"] = real_run(bench_config(steps, topo, speed), lab, out / "real", timeout)
        log(f"real run: {results['real']['server_steps']} server steps, {time.time() - t0:.0f} s wall")
    t0 = time.time()
    results["sim"] = sim_run(bench_config(steps, topo, speed, kind="sim"), out / "sim")
    log(f"simulated run: {results['sim']['server_steps']} server steps, {time.time() - t0:.0f} s wall")
    return results


def report_lines(topo: list[dict], results: dict) -> list[str]:
    real, sim = results["real"], results["sim"]
    lines = comparison_rows([r["name"] for r in topo], real, sim)
    lines += ["", *rpc_rows(topo, real), ""]
    lines.append(f"training time: real {_s(real['train_s'])} s wall (first pull to last step) vs simulated "
                 f"{_s(sim['virtual_s'])} s virtual (ratio {_ratio(real['train_s'], sim['virtual_s'])}); "
                 f"server steps {real['server_steps']} / {sim['server_steps']}")
    return lines


def run(args) -> int:
    import signal

    from dist_llm_train.network.netns import unavailable_reason

    torch.set_num_threads(1)
    try:
        topo = regions(args.bandwidth_scale)
        bench_config(args.steps, topo)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out).resolve()

    def terminate(signum, frame):
        raise SystemExit(128 + signum)  # unwinds through the lab's cleanup

    previous = signal.signal(signal.SIGTERM, terminate)  # before the first namespace is made
    try:
        reason = unavailable_reason()
        if reason is not None:
            print(f"SKIPPED: the shaped multi-region run needs network namespaces: {reason}")
            return 0
        results = shaped_run(topo, args.steps, out, args.timeout, train=not args.skip_train)
    finally:
        signal.signal(signal.SIGTERM, previous)
    results["bandwidth_scale"] = args.bandwidth_scale
    if "real" in results:
        lines = report_lines(topo, results)
        print("\n".join(lines))
        (out / "results.md").write_text("\n".join(lines) + "\n")
    (out / "results.json").write_text(json.dumps(results, indent=1))
    print(f"results: {out / 'results.json'}")
    return 0
