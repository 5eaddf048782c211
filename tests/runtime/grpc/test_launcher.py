"""`train --runtime local` as a user runs it: a real server and gpt2-tiny worker processes on
loopback, stopped by SIGTERM (timeout, docker stop, Kubernetes) or SIGINT mid-training; every
process it started must be gone, and it exits with the signal's conventional code."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[3] / "src")

CONFIG = {"name": "launcher-test", "seed": 0, "model": {"name": "gpt2-tiny", "init": "random"},
          "data": {"corpus": "shakespeare", "seq_len": 32, "batch_size": 4},
          "network": {"preset": "lan", "num_workers": 1}, "max_server_steps": 100_000,
          "eval": {"every_steps": 100_000, "max_eval_tokens": 256},
          "runtime": {"kind": "local", "torch_threads": 1, "heartbeat_interval": 0.5}}


def children(pid: int) -> set[int]:
    try:
        return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except OSError:
        return set()


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def stepped(run_dir: Path) -> bool:
    log = run_dir / "events.jsonl"
    return log.exists() and any(line.endswith("}") and json.loads(line).get("event") == "step"
                                for line in log.read_text().splitlines())


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_every_process_it_started(tmp_path, sig):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(CONFIG))
    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.Popen([sys.executable, "-m", "dist_llm_train", "train", str(cfg), "--runtime", "local",
                             "--out", str(run_dir)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    started: set[int] = set()
    left: list[int] = []
    try:
        deadline = time.monotonic() + 180
        while not stepped(run_dir):  # training is under way
            started |= children(proc.pid)
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "training did not start"
            time.sleep(0.2)
        started = children(proc.pid)
        assert len(started) == 2, started  # the server and the worker
        proc.send_signal(sig)
        try:
            _, err = proc.communicate(timeout=60)
        finally:
            deadline = time.monotonic() + 10
            while any(alive(p) for p in started) and time.monotonic() < deadline:
                time.sleep(0.1)
            left = [p for p in started if alive(p)]
    finally:  # never leave a process behind, even when the test fails
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for p in started:
            if alive(p):
                os.kill(p, signal.SIGKILL)
    assert not left, f"processes left running after {signal.Signals(sig).name}: {left}"
    assert proc.returncode == 128 + sig, err.decode()[-2000:]
    assert "Traceback" not in err.decode(), err.decode()[-2000:]


def test_an_earlier_run_is_never_overwritten(tmp_path, capsys):
    from dist_llm_train.cli import main

    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(CONFIG))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "events.jsonl").write_text('{"event": "step", "version": 9}\n')
    assert main(["train", str(cfg), "--runtime", "local", "--out", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "holds an earlier run" in err and "--out" in err and "Traceback" not in err
    assert (run_dir / "events.jsonl").read_text() == '{"event": "step", "version": 9}\n'
    assert not (run_dir / "logs").exists(), "nothing was started"
