"""A real `serve` whose checkpoints cannot be written (every write past 8 MB fails with EFBIG, as a
full disk fails them with ENOSPC) stops training with one error line and exit code 2, and leaves no
partial checkpoint directory; its worker is told nothing worse than that the server is gone."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from dist_llm_train.runtime.grpc.tokens import TokenStore, write_token_file

SRC = str(Path(__file__).resolve().parents[3] / "src")
CONFIG = {"name": "ckpt-fail", "seed": 0, "model": {"name": "gpt2-tiny", "init": "random"},
          "data": {"corpus": "shakespeare", "seq_len": 32, "batch_size": 4},
          "network": {"preset": "lan", "num_workers": 1}, "max_server_steps": 100_000,
          "checkpoint": {"every_steps": 5, "keep": 2},
          "runtime": {"kind": "local", "torch_threads": 1, "heartbeat_interval": 0.5}}


def limit_file_size():
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (8 << 20, hard))  # a checkpoint of gpt2-tiny is ~80 MB


def test_a_server_that_cannot_checkpoint_stops_with_exit_code_2(tmp_path):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(CONFIG))
    run_dir = tmp_path / "run"
    store = TokenStore(path=run_dir / "tokens.json")
    token = write_token_file(tmp_path / "worker-0.token", store.issue(0))
    store.save()
    env = {**os.environ, "PYTHONPATH": SRC}
    port_file = tmp_path / "port"
    server = subprocess.Popen([sys.executable, "-m", "dist_llm_train", "serve", str(cfg), "--out", str(run_dir),
                               "--port", "0", "--port-file", str(port_file), "--no-eval"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=limit_file_size)
    worker = None
    try:
        for _ in range(600):
            if port_file.exists() or server.poll() is not None:
                break
            time.sleep(0.1)
        assert port_file.exists(), server.communicate()
        worker = subprocess.Popen([sys.executable, "-m", "dist_llm_train", "worker", "--server",
                                   f"127.0.0.1:{port_file.read_text()}", "--worker-id", "0", "--token-file", str(token),
                                   "--give-up-after", "3"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        out, err = server.communicate(timeout=240)
    finally:
        for proc in (server, worker):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    err = err.decode()
    assert server.returncode == 2, err[-3000:]
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err[-3000:]
    assert "training stopped at version" in lines[0] and "could not be written" in lines[0]
    assert "File too large" in lines[0] and "--resume" in lines[0]
    assert not list((run_dir / "checkpoints").glob(".tmp-*")), "a partial checkpoint was left"
    events = [json.loads(ln) for ln in (run_dir / "events.jsonl").read_text().splitlines()]
    assert [e for e in events if e["event"] == "checkpoint_failed"]
    assert json.loads((run_dir / "server_status.json").read_text())["failure"]
    if worker is not None:
        assert worker.wait(60) is not None
