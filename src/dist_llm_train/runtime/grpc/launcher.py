"""`--runtime local`: a real parameter server and N worker processes on loopback.

LocalCluster starts and stops the processes it owns, by their handles only: on Ctrl-C, SIGTERM
(signals.py), on an error, or at the end of training, every process it started is stopped (SIGTERM, then SIGKILL
after a grace period), so nothing is orphaned. Tests use the same class to kill and restart a
worker or the server mid-run.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from dist_llm_train.config import RunConfig
from dist_llm_train.errors import RunFailed
from dist_llm_train.metrics.event_log import read_events
from dist_llm_train.runtime.grpc.tokens import TokenStore, write_token_file


def _child_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[3])  # the `src` directory this package was imported from
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="false",
               PYTHONUNBUFFERED="1")
    return env


class LocalCluster:
    def __init__(self, cfg: RunConfig, run_dir: str | Path, *, evaluate: bool = True, tls: dict | None = None):
        self.cfg = cfg
        self.run_dir = Path(run_dir).resolve()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.logs = self.run_dir / "logs"
        self.logs.mkdir(exist_ok=True)
        self.evaluate = evaluate
        self.tls = tls or {}
        self.server: subprocess.Popen | None = None
        self.workers: dict[int, subprocess.Popen] = {}
        self.port: int | None = None
        self.env = _child_env(cfg.runtime.torch_threads)
        self.config_path = self.run_dir / "launch_config.json"
        self.config_path.write_text(cfg.model_dump_json(indent=1))
        self.token_dir = self.run_dir / "tokens"
        from dist_llm_train.network import build_topology

        self.num_workers = len(build_topology(cfg.network))
        store = TokenStore(path=self.run_dir / "tokens.json")
        for w in range(self.num_workers):
            write_token_file(self.token_dir / f"worker-{w}.token", store.issue(w))
        store.save()

    # -- where processes run (overridden to place them in network namespaces) ------------------
    def command_prefix(self, role: str) -> list[str]:
        """Words before `python -m dist_llm_train ...` for `role` ("server" or "worker-<id>"); none here."""
        return []

    def worker_target(self, worker_id: int) -> str:
        """The HOST:PORT worker `worker_id` dials."""
        return f"127.0.0.1:{self.port}"

    # -- processes -------------------------------------------------------------------------------
    def _spawn(self, args: list[str], log_name: str, role: str) -> subprocess.Popen:
        log = open(self.logs / log_name, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        try:
            return subprocess.Popen([*self.command_prefix(role), sys.executable, "-m", "dist_llm_train", *args],
                                    stdout=log,
                                    stderr=subprocess.STDOUT, env=self.env, cwd=self.run_dir)
        finally:
            log.close()

    def start_server(self, resume: bool = False, timeout: float = 300.0) -> int:
        port_file = self.run_dir / "server.port"
        port_file.unlink(missing_ok=True)
        args = ["serve", str(self.config_path), "--out", str(self.run_dir), "--host", "127.0.0.1",
                "--port", str(self.port if resume and self.port else 0), "--port-file", str(port_file),
                "--token-file", str(self.run_dir / "tokens.json")]
        if resume:
            args.append("--resume")
        if not self.evaluate:
            args.append("--no-eval")
        for key in ("tls_cert", "tls_key", "tls_client_ca"):
            if self.tls.get(key):
                args += [f"--{key.replace('_', '-')}", str(self.tls[key])]
        self.server = self._spawn(args, "server.log", "server")
        deadline = time.monotonic() + timeout
        while not port_file.exists():
            if self.server.poll() is not None:
                raise RuntimeError(f"the server exited with code {self.server.returncode} before listening:\n"
                                   + self.tail("server.log"))
            if time.monotonic() > deadline:
                raise TimeoutError(f"the server did not listen within {timeout:.0f} s:\n" + self.tail("server.log"))
            time.sleep(0.1)
        self.port = int(port_file.read_text())
        return self.port

    def start_worker(self, worker_id: int) -> subprocess.Popen:
        args = ["worker", "--server", self.worker_target(worker_id), "--worker-id", str(worker_id),
                "--token-file", str(self.token_dir / f"worker-{worker_id}.token"),
                "--report", str(self.logs / f"worker-{worker_id}.report.json")]
        if self.tls.get("ca"):
            args += ["--tls-ca", str(self.tls["ca"])]
        if self.tls.get("client_cert"):
            args += ["--tls-cert", str(self.tls["client_cert"]), "--tls-key", str(self.tls["client_key"])]
        proc = self._spawn(args, f"worker-{worker_id}.log", f"worker-{worker_id}")
        self.workers[worker_id] = proc
        return proc

    def start(self) -> None:
        self.start_server()
        for w in range(self.num_workers):
            self.start_worker(w)

    @staticmethod
    def _stop(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, grace: float = 15.0) -> None:
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill_worker(self, worker_id: int) -> None:
        self._stop(self.workers.get(worker_id), signal.SIGKILL)

    def kill_server(self) -> None:
        self._stop(self.server, signal.SIGKILL)

    def stop(self) -> None:
        """Stop every process this cluster started (workers first, then the server): all workers are
        signalled at once, so stopping N of them takes one grace period, not N."""
        for proc in self.workers.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.workers.values():
            self._stop(proc)
        self._stop(self.server)

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- observation -----------------------------------------------------------------------------
    def tail(self, log_name: str, lines: int = 40) -> str:
        path = self.logs / log_name
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def events(self) -> list[dict]:
        out = []
        # events.jsonl first, then each resumed server's file in the order they were started
        for path in sorted(self.run_dir.glob("events*.jsonl"), key=lambda p: (p.name != "events.jsonl", p.name)):
            try:
                out.extend(read_events(path))
            except (OSError, json.JSONDecodeError):
                continue  # a line being written
        return out

    def wait_server(self, timeout: float | None = None, on_event: Callable[[dict], None] | None = None) -> int:
        """Wait for the server to exit, passing new events to `on_event`; returns its exit code."""
        seen = 0
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.server.poll() is None:
            if on_event is not None:
                events = self.events()
                for ev in events[seen:]:
                    on_event(ev)
                seen = len(events)
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"training did not finish within {timeout:.0f} s:\n" + self.tail("server.log"))
            time.sleep(0.5)
        return self.server.returncode

    def wait_workers(self, timeout: float = 60.0) -> dict[int, int | None]:
        deadline = time.monotonic() + timeout
        for proc in self.workers.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
        return {w: p.poll() for w, p in self.workers.items()}

    def worker_reports(self) -> dict[int, dict]:
        out = {}
        for w in self.workers:
            path = self.logs / f"worker-{w}.report.json"
            if path.exists():
                out[w] = json.loads(path.read_text())
        return out

    def status(self) -> dict:
        return json.loads((self.run_dir / "server_status.json").read_text())


def run_local(cfg: RunConfig, run_dir: str | Path | None = None, on_eval: Callable[[dict], None] | None = None,
              timeout: float | None = None):
    """Train with a real server and N worker processes on loopback; returns the RunResult."""
    from dist_llm_train.controller.run_result import RunResult
    from dist_llm_train.runtime.grpc.run_dir import check_fresh
    from dist_llm_train.runtime.grpc.signals import sigterm_unwinds

    run_dir = Path(run_dir) if run_dir else Path(cfg.out_dir) / cfg.name
    check_fresh(run_dir, Path(cfg.checkpoint.dir) if cfg.checkpoint.dir else run_dir / "checkpoints", resume=False,
                fix="pass another --out (a gRPC run resumes with `serve CONFIG --resume`)")
    t0 = time.time()
    with sigterm_unwinds(), LocalCluster(cfg, run_dir) as cluster:
        cluster.start()

        def relay(ev: dict) -> None:
            if ev.get("event") == "eval" and on_eval is not None:
                on_eval(ev)

        code = cluster.wait_server(timeout, relay)
        cluster.wait_workers(30.0)
        if code != 0:
            raise RunFailed(f"the parameter server exited with code {code} (its log: {cluster.logs / 'server.log'}):\n"
                            + cluster.tail("server.log", 12))
        status = cluster.status()
    curve = [{k: v for k, v in p.items()} for p in status["curve"]]
    summary = {k: status[k] for k in ("flushes", "submitted", "accepted", "acceptance_rate", "bytes_up", "bytes_down",
                                      "workers")}
    result = RunResult(
        name=cfg.name, run_dir=str(run_dir), config=cfg.model_dump(mode="json"), kind="", model=cfg.model.name,
        num_params=0, num_workers=cluster.num_workers, worker_names=[], worker_regions=[], byzantine_ids=[],
        server_steps=status["version"], virtual_time=0.0, wall_time=time.time() - t0,
        stopped_by="max_server_steps" if status["state"] == "DONE" else status["state"].lower(),
        curve=curve, final=dict(curve[-1]) if curve else {}, summary=summary,
        utilization=[], wall_breakdown={}, extra={"runtime": "local", "port": status.get("port")},
    )
    result.save(Path(run_dir) / "summary.json")
    return result
