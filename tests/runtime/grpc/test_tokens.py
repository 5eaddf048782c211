"""Per-worker tokens: bound to one worker id, stored only as salted hashes, files owner-readable."""

import json
import stat

import pytest

from dist_llm_train.errors import ConfigError, ResourceNotFoundError
from dist_llm_train.runtime.grpc.tokens import TokenStore, read_token_file, token_worker_id, write_token_file


def test_token_is_bound_to_its_worker_and_never_stored_in_clear(tmp_path):
    store = TokenStore(path=tmp_path / "tokens.json")
    t0, t1 = store.issue(0), store.issue(1)
    store.save()
    text = (tmp_path / "tokens.json").read_text()
    assert t0 not in text and t1 not in text
    loaded = TokenStore.load(tmp_path / "tokens.json")
    assert loaded.verify(0, t0) and loaded.verify(1, t1)
    assert not loaded.verify(1, t0), "worker 0's token must not authenticate worker 1"
    assert not loaded.verify(0, t0 + "x") and not loaded.verify(2, t0)
    assert token_worker_id(t1) == 1
    assert stat.S_IMODE((tmp_path / "tokens.json").stat().st_mode) == 0o600


def test_reissue_and_revoke_invalidate_the_old_token(tmp_path):
    store = TokenStore(path=tmp_path / "t.json")
    old = store.issue(3)
    new = store.issue(3)
    assert not store.verify(3, old) and store.verify(3, new)
    assert store.revoke(3) and not store.verify(3, new)
    assert not store.revoke(3)


def test_token_files_round_trip_and_bad_files_are_named(tmp_path):
    store = TokenStore()
    path = write_token_file(tmp_path / "w0.token", store.issue(0))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.verify(0, read_token_file(path))
    (tmp_path / "junk.token").write_text("hello")
    with pytest.raises(ConfigError, match="does not hold"):
        read_token_file(tmp_path / "junk.token")
    with pytest.raises(ResourceNotFoundError, match="ask the server's operator"):
        read_token_file(tmp_path / "missing.token")
    (tmp_path / "bad.json").write_text(json.dumps({"format": 1, "workers": {"x": {}}}))
    with pytest.raises(ConfigError, match="not a valid token file"):
        TokenStore.load(tmp_path / "bad.json")


@pytest.mark.parametrize(("field", "value"), [("salt", "zz-not-hex"), ("sha256", "abc"), ("sha256", "g" * 64)])
def test_a_damaged_record_is_refused_when_the_file_is_read(tmp_path, field, value):
    store = TokenStore(path=tmp_path / "tokens.json")
    store.issue(0)
    store.issue(1)
    store.save()
    data = json.loads((tmp_path / "tokens.json").read_text())
    data["workers"]["1"][field] = value
    (tmp_path / "tokens.json").write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="the record of worker 1 is damaged"):
        TokenStore.load(tmp_path / "tokens.json")
