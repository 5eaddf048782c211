"""Shared rounds for the aggregation tests: honest updates around a true gradient, plus f attacked ones.

The honest updates are h_i = mu + noise (d = 2048, noise std 1 per coordinate, |mu| per coordinate
10), so the plain mean's error under each attack is several honest spreads, which lets a test show
both that the attack works (mean breaks) and that a rule bounds it. Errors are measured in units of
the honest spread rho = sqrt(mean_i |h_i - hbar|^2), the scale robustness bounds are stated in.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from dist_llm_train.attacks import AttackContext, make_attack

# attack strengths used by the robustness tests (each breaks the plain mean, except ALIE: see docs)
ATTACKS = {
    "sign_flip": {"scale": 1.0},
    "gaussian": {"std": 20.0},
    "scaled": {"scale": 10.0},
    "zero": {},
    "random": {"scale": 20.0},
    "alie": {},
    "ipm": {"epsilon": 0.1},
}


@dataclass
class Round:
    updates: torch.Tensor  # [n, d], Byzantine rows last
    honest: torch.Tensor  # [n - f, d]
    f: int  # Byzantine rows present (0 for an attack-free round)

    @property
    def honest_mean(self) -> torch.Tensor:
        return self.honest.mean(dim=0)

    @property
    def spread(self) -> float:
        return float((self.honest - self.honest_mean).pow(2).sum(dim=1).mean().sqrt())

    def error(self, update: torch.Tensor) -> float:
        """Distance to the honest mean in units of the honest spread."""
        return float((update - self.honest_mean).norm()) / self.spread


def make_round(attack: str | None, n: int = 10, f: int = 2, d: int = 2048, seed: int = 0, **params) -> Round:
    g = torch.Generator().manual_seed(seed)
    mu = 10.0 * torch.randn(d, generator=g)
    honest = mu + torch.randn(n - f if attack else n, d, generator=g)
    rows = [honest]
    if attack is not None and f > 0:
        atk = make_attack(attack, **params)
        ctx = AttackContext(honest=honest, n=n, f=f, generator=g)
        rows.append(torch.stack([atk.apply(honest[0], ctx) for _ in range(f)]))
    return Round(torch.cat(rows).contiguous(), honest, f if attack else 0)


@pytest.fixture
def attacked():
    return make_round


def alie_bias(rd: Round, update: torch.Tensor) -> float:
    """How far the aggregate moved from the honest mean along the ALIE direction, in honest spreads."""
    u = rd.honest_mean - rd.updates[-1]
    return float((rd.honest_mean - update) @ (u / u.norm())) / rd.spread


def check_robust(rule: str, bound: float, n: int = 10, f: int = 2, **params) -> dict[str, float]:
    """For every attack except ALIE: the rule's error stays <= bound (honest spreads) while the plain
    mean's error exceeds it. Returns the rule's errors per attack, ALIE included.

    ALIE is not checked here because it does not break the mean (it is built against robust rules);
    each rule's test asserts what ALIE does to that rule instead (its rows kept, the bias along its
    direction against the mean's). label_flip acts on data, not on updates: tests/attacks/test_label_flip.py
    checks it on a real model."""
    from dist_llm_train.aggregation import make_aggregator

    errors = {}
    for attack, attack_params in ATTACKS.items():
        rd = make_round(attack, n=n, f=f, **attack_params)
        err = rd.error(make_aggregator(rule, f=f, **params)(rd.updates).update)
        errors[attack] = err
        if attack == "alie":
            continue
        mean_err = rd.error(make_aggregator("mean")(rd.updates).update)
        assert mean_err > bound, f"{attack} does not break the mean ({mean_err:.3f} <= {bound})"
        assert err <= bound, f"{rule} under {attack}: error {err:.3f} > bound {bound}"
    return errors


@pytest.fixture
def robust():
    return check_robust


@pytest.fixture(name="alie_bias")
def _alie_bias():
    return alie_bias
