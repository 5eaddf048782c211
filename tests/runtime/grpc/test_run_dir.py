"""A fresh run refuses a directory that holds an earlier run's log or checkpoints."""

import pytest

from dist_llm_train.errors import ConfigError
from dist_llm_train.runtime.grpc.run_dir import check_fresh, earlier_run


def test_what_counts_as_an_earlier_run(tmp_path):
    ck = tmp_path / "checkpoints"
    assert earlier_run(tmp_path / "absent", ck) == []
    (tmp_path / "events.jsonl").write_text("")  # a start that failed before its first event
    (tmp_path / "tokens.json").write_text("{}")
    assert earlier_run(tmp_path, ck) == []
    (tmp_path / "events-resumed-1.jsonl").write_text("{}\n")
    (ck / "step-000000007-0000000000001").mkdir(parents=True)
    assert earlier_run(tmp_path, ck) == ["events-resumed-1.jsonl", "1 checkpoint(s) up to step-000000007-0000000000001"]


def test_check_fresh_refuses_unless_resuming(tmp_path):
    (tmp_path / "events.jsonl").write_text("{}\n")
    with pytest.raises(ConfigError, match="holds an earlier run .*events.jsonl.*never overwritten: use --resume"):
        check_fresh(tmp_path, tmp_path / "checkpoints", resume=False, fix="use --resume")
    check_fresh(tmp_path, tmp_path / "checkpoints", resume=True, fix="")
