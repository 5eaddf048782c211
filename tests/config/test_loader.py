import pytest

from dist_llm_train.config import ConfigError, RunConfig, load_config


def test_defaults_validate():
    cfg = load_config()
    assert isinstance(cfg, RunConfig)
    assert cfg.sync.mode == "async"


def test_typo_in_key_is_an_error_with_suggestion():
    with pytest.raises(ConfigError) as exc:
        load_config({"sync": {"adaptive_staleneess": True}})
    msg = str(exc.value)
    assert "sync.adaptive_staleneess" in msg
    assert "did you mean 'sync.adaptive_staleness'" in msg


def test_unknown_top_level_section_lists_allowed_keys():
    with pytest.raises(ConfigError) as exc:
        load_config({"compresion": {"codec": "topk:0.1"}})
    assert "allowed keys here" in str(exc.value) and "compression" in str(exc.value)


def test_bad_enum_names_key_and_allowed_values():
    with pytest.raises(ConfigError) as exc:
        load_config({"sync": {"mode": "asinc"}})
    msg = str(exc.value)
    assert "sync.mode" in msg and "'sync'" in msg and "'async'" in msg and "asinc" in msg


def test_negative_bound_rejected():
    with pytest.raises(ConfigError, match="sync.max_staleness"):
        load_config({"sync": {"max_staleness": -1}})


def test_zero_bandwidth_rejected():
    with pytest.raises(ConfigError, match=r"network.workers.0.bandwidth"):
        load_config({"network": {"preset": "custom", "workers": [{"name": "a", "bandwidth": 0}]}})


def test_overrides_are_yaml_parsed_and_aliases_work():
    cfg = load_config(None, ["steps=7", "sync.mode=sync", "worker.clip_norm=null", "workers=3"])
    assert cfg.max_server_steps == 7
    assert cfg.sync.mode == "sync"
    assert cfg.worker.clip_norm is None
    assert cfg.network.num_workers == 3


def test_override_without_equals_is_clear():
    with pytest.raises(ConfigError, match="key=value"):
        load_config(None, ["sync.mode"])


def test_yaml_file_roundtrip(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("name: t\nsync:\n  mode: sync\nnetwork:\n  num_workers: 4\n")
    cfg = load_config(p)
    assert cfg.name == "t" and cfg.sync.mode == "sync" and cfg.network.num_workers == 4
    assert load_config(cfg) == cfg


def test_missing_file_is_clear(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_non_mapping_yaml_is_clear(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(p)


def test_buffer_larger_than_workers_rejected():
    with pytest.raises(ConfigError, match="sync.buffer_size"):
        load_config({"network": {"num_workers": 2}, "sync": {"buffer_size": 3}})


def test_byzantine_ids_out_of_range():
    with pytest.raises(ConfigError, match="byzantine.workers"):
        load_config({"network": {"num_workers": 2}, "byzantine": {"workers": [5]}})
