"""Values that used to pass `config check` and crash the run later: each is now refused at load time,
with the dotted key, what was given and what is allowed."""

from __future__ import annotations

import pytest

from dist_llm_train.config import ConfigError, load_config


def _error(overrides: dict) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(overrides=overrides)
    return str(info.value)


def test_unknown_rule_param_is_named_with_what_the_rule_accepts():
    msg = _error({"aggregation.params": {"foo": 1}})
    assert "aggregation.params: mean: unknown parameter(s) ['foo']" in msg
    assert "it accepts none" in msg


def test_rule_param_of_a_rule_that_has_params():
    msg = _error({"aggregation.rule": "centered_clip", "aggregation.params": {"tau": -1.0}})
    assert "aggregation.params" in msg and "tau must be > 0" in msg
    assert load_config(overrides={"aggregation.rule": "centered_clip", "aggregation.params": {"tau": 2.0}})


def test_unknown_attack_param_lists_the_accepted_ones():
    msg = _error({"byzantine.params": {"zz": 3}})
    assert "byzantine.params" in msg and "['zz']" in msg and "it accepts ['scale']" in msg


def test_bad_attack_param_value_even_without_byzantine_workers():
    msg = _error({"byzantine.attack": "gaussian", "byzantine.params": {"std": -1}})
    assert "byzantine.params" in msg and "std must be finite and > 0" in msg


def test_bad_attack_argument_in_the_name_is_attached_to_the_attack_key():
    msg = _error({"byzantine.attack": "gaussian:-2"})
    assert "byzantine.attack" in msg and "std" in msg


def test_unknown_pre_aggregator_is_checked_with_the_default_mean_and_f_zero():
    msg = _error({"aggregation.pre": ["bogus"]})
    assert "aggregation.pre.0: unknown pre-aggregator 'bogus'" in msg and "allowed: nnm" in msg


def test_second_pre_aggregator_is_named_by_its_index():
    msg = _error({"aggregation.pre": ["nnm", "bucketing:zero"]})
    assert "aggregation.pre.1" in msg and "aggregation.pre.0" not in msg


def test_precondition_is_attached_to_aggregation_f_not_the_top_level():
    msg = _error({"aggregation.rule": "krum", "aggregation.f": 2, "network.num_workers": 4,
                  "sync.buffer_size": 4})
    assert "  - aggregation.f: krum: needs n >= 2f + 3" in msg
    assert "(top level)" not in msg and "sync.buffer_size" in msg


def test_several_cross_section_problems_are_all_listed():
    msg = _error({"network.num_workers": 2, "sync.buffer_size": 3, "byzantine.params": {"zz": 1}})
    assert "  - sync.buffer_size: 3 is larger than the number of workers (2)" in msg
    assert "  - byzantine.params:" in msg


def test_unknown_corpus_lists_the_corpora():
    msg = _error({"data.corpus": "nope"})
    assert "data.corpus: unknown corpus 'nope'" in msg and "wiki" in msg and "text:PATH" in msg


def test_text_corpus_path_must_exist(tmp_path):
    missing = tmp_path / "absent.txt"
    msg = _error({"data.corpus": f"text:{missing}"})
    assert "data.corpus" in msg and "does not exist" in msg and str(missing) in msg
    msg = _error({"data.corpus": "parquet:"})
    assert "needs a path after 'parquet:'" in msg
    present = tmp_path / "mine.txt"
    present.write_text("one\n\ntwo\n\nthree\n")
    assert load_config(overrides={"data.corpus": f"text:{present}"}).data.corpus == f"text:{present}"


def test_betas_must_be_in_zero_one():
    msg = _error({"optimizer.betas": [0.9, 1.5]})
    assert "optimizer.betas" in msg and "[0, 1)" in msg and "(got [0.9, 1.5])" in msg
    assert _error({"optimizer.betas": [-0.1, 0.99]})
    assert load_config(overrides={"optimizer.betas": [0.0, 0.95]}).optimizer.betas == (0.0, 0.95)


def test_seq_len_longer_than_the_model_context():
    msg = _error({"data.seq_len": 4096})
    assert "data.seq_len: 4096 is longer than the context of model 'gpt2-tiny' (256 positions)" in msg
    assert load_config(overrides={"data.seq_len": 256}).data.seq_len == 256
    assert load_config(overrides={"model.name": "gpt2-small", "data.seq_len": 1024}).data.seq_len == 1024
    assert "512 positions" in _error({"model.name": "bert-mini", "data.seq_len": 1024})


def test_seq_len_against_a_user_checkpoint_reads_its_config(tmp_path):
    (tmp_path / "config.json").write_text('{"n_positions": 64}')
    msg = _error({"model.path": str(tmp_path), "data.seq_len": 128})
    assert "data.seq_len" in msg and "64 positions" in msg


def test_unknown_hardware_profile_is_attached_to_network_workers():
    msg = _error({"network.preset": "custom",
                  "network.workers": [{"name": "a", "bandwidth": 10, "hardware": "abacus"}]})
    assert "  - network.workers: unknown hardware profile 'abacus'" in msg and "(top level)" not in msg


def test_registry_import_errors_are_not_swallowed():
    from dist_llm_train.config.registry_check import _registry

    with pytest.raises(ImportError):
        _registry("dist_llm_train.no_such_layer")


def test_privacy_enabled_is_refused_until_it_has_a_mechanism():
    msg = _error({"privacy.enabled": True})
    assert "privacy.enabled" in msg and "not implemented" in msg and "no privacy at all" in msg


def test_any_privacy_knob_is_refused_not_ignored():
    msg = _error({"privacy.target_epsilon": 8.0})
    assert "privacy.target_epsilon" in msg and "not implemented" in msg


def test_guide_enable_dp_is_refused():
    from dist_llm_train.config.guide_compat import from_guide_config

    with pytest.raises(ConfigError) as info:
        load_config(from_guide_config({"model_name": "gpt2-tiny", "enable_dp": True}))
    assert "privacy.enabled" in str(info.value)
    # enable_dp: False asks for nothing and still loads
    assert load_config(from_guide_config({"model_name": "gpt2-tiny", "enable_dp": False}))
