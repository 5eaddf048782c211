"""`dist-llm-train serve` through the real CLI entry point: operator mistakes end in one line and exit
code 2 (no traceback), an earlier run is never overwritten, and a resume at the end of training works."""

from __future__ import annotations

import json
import socket

import pytest

from dist_llm_train.checkpoint import CheckpointManager
from dist_llm_train.cli import main
from dist_llm_train.runtime.grpc.tls import make_test_pki
from dist_llm_train.runtime.grpc.tokens import TokenStore

CONFIG = {"name": "serve-test", "seed": 0, "model": {"name": "gpt2-tiny", "init": "random"},
          "data": {"corpus": "shakespeare", "seq_len": 32, "batch_size": 4},
          "network": {"preset": "lan", "num_workers": 1}, "max_server_steps": 6,
          "runtime": {"kind": "local", "torch_threads": 1}}


@pytest.fixture
def run(tmp_path):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(CONFIG))
    run_dir = tmp_path / "run"
    TokenStore(path=run_dir / "tokens.json").save()

    def serve(*extra: str) -> int:
        return main(["serve", str(cfg), "--out", str(run_dir), "--host", "127.0.0.1", "--port", "0", "--no-eval",
                     *extra])

    return serve, run_dir


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_an_earlier_run_is_never_overwritten_without_resume(run, capsys):
    serve, run_dir = run
    (run_dir / "events.jsonl").write_text('{"event": "step", "version": 40}\n')
    (run_dir / "checkpoints" / "step-000000040-0000000000001").mkdir(parents=True)
    assert serve() == 2
    line = one_error_line(capsys)
    assert "holds an earlier run" in line and "--resume" in line and "--out" in line
    assert (run_dir / "events.jsonl").read_text() == '{"event": "step", "version": 40}\n'
    assert (run_dir / "checkpoints" / "step-000000040-0000000000001").is_dir()


def test_resume_from_a_checkpoint_at_max_server_steps_finishes_at_once(run, capsys, tmp_path):
    from dist_llm_train.config import load_config
    from dist_llm_train.runtime.grpc.assembly import build_server_parts

    serve, run_dir = run
    parts = build_server_parts(load_config(CONFIG), tmp_path / "build", evaluate=False)
    server = parts.core.server
    server.version = CONFIG["max_server_steps"]
    saved = CheckpointManager(run_dir / "checkpoints").save(server, server.coordinator)
    assert serve("--resume") == 0
    out = capsys.readouterr().out
    assert f"resumed from {saved} at version 6" in out and "(DONE)" in out
    assert CheckpointManager(run_dir / "checkpoints").list() == [saved], "nothing new to save at the same version"


def test_a_port_in_use_is_named(run, capsys):
    serve, _ = run
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert serve("--port", str(port)) == 2
    line = one_error_line(capsys)
    assert f"port {port} is in use" in line and "--port" in line


def test_a_garbage_pem_file_is_named_not_reported_as_a_bind_failure(run, capsys, tmp_path):
    serve, _ = run
    pki = make_test_pki(tmp_path / "pki")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    assert serve("--tls-cert", str(garbage), "--tls-key", str(pki.server_key)) == 2
    line = one_error_line(capsys)
    assert "garbage.pem" in line and "not a PEM certificate" in line and "bind" not in line
    assert serve("--tls-cert", str(pki.server_cert), "--tls-key", str(pki.client_key)) == 2
    assert "does not belong to the certificate" in one_error_line(capsys)


def test_a_checkpoint_dir_that_is_a_file_is_refused_before_training(run, capsys, tmp_path):
    serve, _ = run
    target = tmp_path / "a-file"
    target.write_text("x")
    assert serve("--set", f"checkpoint.dir={target}") == 2
    line = one_error_line(capsys)
    assert "a-file" in line and "cannot be written" in line

