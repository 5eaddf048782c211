import pytest

from dist_llm_train.attacks import available_attacks, make_attack
from dist_llm_train.config.registry_check import check_attack


def test_all_attacks_listed():
    assert available_attacks() == ["sign_flip", "gaussian", "scaled", "zero", "random", "alie", "ipm", "label_flip"]
    assert [a for a in available_attacks() if make_attack(a).omniscient] == ["alie", "ipm"]
    assert [a for a in available_attacks() if make_attack(a).poisons_data] == ["label_flip"]


def test_spec_with_main_parameter():
    assert make_attack("sign_flip:4").scale == 4.0
    assert make_attack("gaussian:0.5").std == 0.5
    assert make_attack("label_flip:shift=3").shift == 3
    assert check_attack("ipm:0.5") == "ipm:0.5"


def test_bad_names_and_parameters():
    with pytest.raises(ValueError, match="unknown attack"):
        make_attack("flip")
    with pytest.raises(ValueError, match="takes no parameter"):
        make_attack("zero:1")
    with pytest.raises(ValueError, match=r"unknown parameter.*\['std'\]"):
        make_attack("sign_flip", std=1)
    with pytest.raises(ValueError, match="scale must be a number"):
        make_attack("sign_flip:big")
    with pytest.raises(ValueError, match="both"):
        make_attack("sign_flip:2", scale=3)
