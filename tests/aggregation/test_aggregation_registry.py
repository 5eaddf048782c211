import pytest
import torch

from dist_llm_train.aggregation import available_aggregators, check_precondition, make_aggregator
from dist_llm_train.config.cross_checks import check_run
from dist_llm_train.config.registry_check import check_aggregator
from dist_llm_train.errors import ConfigError, PreconditionError

ALL = ["mean", "median", "trimmed_mean", "krum", "multikrum", "bulyan", "geomed", "centered_clip"]


def test_every_rule_is_listed_and_built():
    assert available_aggregators() == ALL
    for name in ALL:
        agg = make_aggregator(name, f=1)
        assert agg.name == name
        out = agg(torch.randn(7, 16))
        assert out.update.shape == (16,) and out.trust.shape == (7,)
        assert float(out.trust.min()) >= 0 and float(out.trust.max()) <= 1


def test_unknown_rule_and_parameter():
    with pytest.raises(ValueError, match="allowed: mean, median"):
        make_aggregator("krumm")
    with pytest.raises(ValueError, match=r"unknown parameter.*\['q'\].*accepts \['m'\]"):
        make_aggregator("multikrum", f=1, q=3)


@pytest.mark.parametrize("rule,n,f,need", [("krum", 6, 2, 7), ("multikrum", 6, 2, 7), ("bulyan", 10, 2, 11),
                                           ("median", 4, 2, 5), ("trimmed_mean", 4, 2, 5), ("geomed", 2, 1, 3),
                                           ("centered_clip", 2, 1, 3)])
def test_check_precondition_names_rule_n_f_and_needed_n(rule, n, f, need):
    check_precondition(rule, n=need, f=f)
    with pytest.raises(PreconditionError) as exc:
        check_precondition(rule, n=n, f=f)
    msg = str(exc.value)
    assert rule in msg and f"n = {n}" in msg and f"f = {f}" in msg and f"at least {need}" in msg


def test_mean_has_no_precondition():
    check_precondition("mean", n=3, f=2)


def test_bucketing_changes_the_n_the_rule_sees():
    # krum with f = 1 needs 5 rows; bucketing:2 turns 9 inputs into 5 rows, 8 into 4
    check_precondition("krum", n=9, f=1, pre=["bucketing:2"])
    with pytest.raises(PreconditionError, match=r"at least 9 inputs.*4 \(bucketing:2\)"):
        check_precondition("krum", n=8, f=1, pre=["bucketing:2"])


def test_bad_pre_specs():
    with pytest.raises(ValueError, match="unknown pre-aggregator"):
        make_aggregator("median", pre=["shuffle"])
    with pytest.raises(ValueError, match="bucket size"):
        make_aggregator("median", pre=["bucketing:x"])


def test_config_loader_uses_the_registry():
    # prepare: the config section validators and cross-checks call into this registry
    from dist_llm_train.config.loader import load_config

    assert check_aggregator("bulyan") == "bulyan"
    with pytest.raises(ValueError, match="unknown aggregation rule"):
        check_aggregator("nope")
    ok = ["aggregation.rule=krum", "aggregation.f=2", "network.num_workers=7", "sync.mode=sync"]
    check_run(load_config(overrides=ok))
    with pytest.raises(ConfigError, match=r"krum: needs n >= 2f \+ 3, i.e. at least 7 .*got n = 6"):
        load_config(overrides=[*ok[:2], "network.num_workers=6", "sync.mode=sync"])
    with pytest.raises(ConfigError, match=r"bucketing:2"):
        load_config(overrides=[*ok, "aggregation.pre=[bucketing:2]"])
