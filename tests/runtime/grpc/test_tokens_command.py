"""`dist-llm-train tokens`: create, list, revoke, certs through the real CLI entry point."""

from dist_llm_train.cli import main
from dist_llm_train.runtime.grpc.tokens import TokenStore, read_token_file


def test_tokens_create_list_revoke_and_certs(tmp_path, capsys):
    hashes = tmp_path / "tokens.json"
    assert main(["tokens", "create", "--file", str(hashes), "--workers", "0-1,4", "--out-dir", str(tmp_path)]) == 0
    store = TokenStore.load(hashes)
    assert store.worker_ids == [0, 1, 4]
    assert store.verify(4, read_token_file(tmp_path / "worker-4.token"))
    assert main(["tokens", "revoke", "--file", str(hashes), "--worker", "1"]) == 0
    capsys.readouterr()
    assert main(["tokens", "list", "--file", str(hashes)]) == 0
    assert capsys.readouterr().out.split() == ["0", "4"]
    assert main(["tokens", "revoke", "--file", str(hashes), "--worker", "9"]) == 2
    assert "has no token" in capsys.readouterr().err
    assert main(["tokens", "certs", "--out", str(tmp_path / "pki"), "--host", "localhost"]) == 0
    assert (tmp_path / "pki" / "server.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_create_never_replaces_a_held_token_without_rotate(tmp_path, capsys):
    hashes = tmp_path / "tokens.json"
    assert main(["tokens", "create", "--file", str(hashes), "--workers", "2", "--out-dir", str(tmp_path)]) == 0
    assert "wrote tokens for workers 0-1" in capsys.readouterr().out
    held = read_token_file(tmp_path / "worker-0.token")
    assert main(["tokens", "create", "--file", str(hashes), "--workers", "3", "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "workers 0-1 already have tokens" in err and "--rotate" in err and "--workers 2-4" in err
    store = TokenStore.load(hashes)
    assert store.worker_ids == [0, 1] and store.verify(0, held), "the running worker's token still works"
    assert read_token_file(tmp_path / "worker-0.token") == held
    assert main(["tokens", "create", "--file", str(hashes), "--workers", "2,5", "--out-dir", str(tmp_path)]) == 0
    assert "wrote tokens for workers 2,5" in capsys.readouterr().out
    assert main(["tokens", "create", "--file", str(hashes), "--workers", "0-0", "--out-dir", str(tmp_path),
                 "--rotate"]) == 0
    out = capsys.readouterr().out
    assert "worker 0:" in out and "replaced its earlier token" in out and "wrote tokens for workers 0" in out
    store = TokenStore.load(hashes)
    assert store.worker_ids == [0, 1, 2, 5] and not store.verify(0, held)
    assert store.verify(0, read_token_file(tmp_path / "worker-0.token"))
