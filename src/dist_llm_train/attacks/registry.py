"""Attacks by name: what a config's `byzantine.attack` can say.

`make_attack("alie")`, `make_attack("sign_flip", scale=4)`, or a spec with the attack's main
parameter after a colon: `make_attack("sign_flip:4")`, `make_attack("gaussian:0.1")`.
"""

from __future__ import annotations

import inspect

from dist_llm_train.attacks.alie import ALittleIsEnough
from dist_llm_train.attacks.base import Attack
from dist_llm_train.attacks.gaussian import GaussianNoise
from dist_llm_train.attacks.ipm import InnerProductManipulation
from dist_llm_train.attacks.label_flip import LabelFlip
from dist_llm_train.attacks.random_update import RandomUpdate
from dist_llm_train.attacks.scaled import Scaled
from dist_llm_train.attacks.sign_flip import SignFlip
from dist_llm_train.attacks.zero import Zero

ATTACKS: dict[str, type[Attack]] = {
    cls.name: cls
    for cls in (SignFlip, GaussianNoise, Scaled, Zero, RandomUpdate, ALittleIsEnough, InnerProductManipulation,
                LabelFlip)
}


def available_attacks() -> list[str]:
    return list(ATTACKS)


def make_attack(name: str, **params) -> Attack:
    base, _, arg = name.strip().partition(":")
    cls = ATTACKS.get(base)
    if cls is None:
        raise ValueError(f"unknown attack {name!r}; allowed: {', '.join(ATTACKS)}")
    accepted = [p.name for p in inspect.signature(cls.__init__).parameters.values()
                if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if arg:
        if not accepted:
            raise ValueError(f"attack {base!r} takes no parameter, got {name!r}")
        main = accepted[0]
        if main in params:
            raise ValueError(f"attack {name!r}: {main} given both in the name and as a parameter")
        params[main] = arg
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(f"attack {base!r}: unknown parameter(s) {unknown}; it accepts {accepted or 'none'}")
    return cls(**params)
