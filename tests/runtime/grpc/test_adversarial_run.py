"""Training with a hostile authenticated worker beside three honest ones (real processes, gpt2-tiny):
the honest run keeps at least half its attack-free pace, its loss falls as far, the huge pushes are
refused by the step guard, and the server's log stays short. The measured figures come from
`dist-llm-train bench adversarial` (the same runs, repeated)."""

from __future__ import annotations

import pytest

from dist_llm_train.runtime.grpc.adversarial_benchmark import ATTACKER, one_run


@pytest.mark.slow
def test_honest_training_survives_a_hostile_authenticated_worker(tmp_path):
    clean = one_run(tmp_path, "clean", 60, attacked=False, timeout=600)
    attacked = one_run(tmp_path, "attacked", 60, attacked=True, timeout=600)
    for r in (clean, attacked):
        assert r["exit_code"] == 0 and r["state"] == "DONE" and r["steps"] == 60, r
        assert r["final_loss"] < r["first_loss"] - 1.0, r
    assert attacked["steps_per_min"] >= 0.5 * clean["steps_per_min"], (clean, attacked)
    assert abs(attacked["final_loss"] - clean["final_loss"]) < 0.75, (clean, attacked)
    assert set(attacked["dropped"]) <= {str(ATTACKER)}, "an honest worker was dropped"
    assert attacked["guard"].get("too_large", 0) >= 1, "the huge pushes never reached the guard"
    assert attacked["refused"].get("RESOURCE_EXHAUSTED", 0) > 100
    assert attacked["server_log_lines"] < 200 and attacked["longest_log_line"] < 1000, attacked
