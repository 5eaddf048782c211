"""`dist-llm-train worker` against servers it cannot use: one error line naming the fix, exit code 2,
no traceback, and no ten-minute wait for a mistake that retrying cannot fix."""

from __future__ import annotations

import socket
import time
from concurrent import futures

import grpc
import pytest

from dist_llm_train.cli import main
from dist_llm_train.runtime.grpc.tls import make_test_pki, server_credentials
from dist_llm_train.runtime.grpc.tokens import write_token_file


def worker(capsys, target: str, token_file, *extra: str) -> tuple[int, str, float]:
    t0 = time.monotonic()
    code = main(["worker", "--server", target, "--worker-id", "0", "--token-file", str(token_file), *extra])
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    return code, lines[0], time.monotonic() - t0


@pytest.fixture
def token(tmp_path):
    return write_token_file(tmp_path / "worker-0.token", "dlt1.0.abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq")


def test_nothing_listening(capsys, token):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    code, line, _ = worker(capsys, f"127.0.0.1:{port}", token, "--give-up-after", "1")
    assert code == 2 and f"nothing listens at 127.0.0.1:{port}" in line


@pytest.fixture
def tls_server(tmp_path):
    pki = make_test_pki(tmp_path / "pki")
    server = grpc.server(futures.ThreadPoolExecutor(2))
    port = server.add_secure_port("127.0.0.1:0", server_credentials(pki.server_cert, pki.server_key))
    server.start()
    yield pki, port
    server.stop(grace=None)


def test_plain_text_to_a_tls_server_names_tls_and_gives_up_quickly(capsys, token, tls_server):
    _, port = tls_server
    code, line, seconds = worker(capsys, f"127.0.0.1:{port}", token)  # the default waits 600 s for a server
    assert code == 2 and "pass --tls-ca" in line and seconds < 30


def test_tls_to_a_plain_text_server_says_so(capsys, token, tls_server, live_server):
    pki, _ = tls_server
    srv = live_server(num_workers=1)
    code, line, seconds = worker(capsys, srv.target, token, "--tls-ca", str(pki.ca))
    assert code == 2 and "does not speak TLS: drop --tls-ca" in line and seconds < 30


def test_a_refused_token_is_one_line(capsys, tmp_path, live_server):
    srv = live_server(num_workers=1)
    wrong = write_token_file(tmp_path / "wrong.token", "dlt1.0.abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq")
    code, line, _ = worker(capsys, srv.target, wrong)
    assert code == 2 and "UNAUTHENTICATED" in line and "--token-file" in line


def test_a_garbage_ca_file_is_named(capsys, token, tmp_path):
    garbage = tmp_path / "ca.pem"
    garbage.write_text("not a certificate")
    code, line, _ = worker(capsys, "127.0.0.1:1", token, "--tls-ca", str(garbage))
    assert code == 2 and "ca.pem" in line and "not a PEM certificate" in line
