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
