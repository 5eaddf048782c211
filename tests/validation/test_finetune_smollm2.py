"""The finetune suite's baseline on the real pretrained SmolLM2-135M, cut to a few steps: the
held-out perplexity of the same tokens falls below the pretrained model's. Slow (~3 minutes on 2
cores): it loads the 135M model and runs real fine-tuning steps through the simulator."""

import pytest

from dist_llm_train.config import load_config
from dist_llm_train.controller.main_controller import MainController
from dist_llm_train.validation.suites import get_suite


@pytest.mark.slow
def test_a_few_finetune_steps_lower_smollm2_held_out_perplexity(tmp_path):
    suite = get_suite("finetune", "quick")
    cfg = load_config(suite.baseline, ["max_server_steps=4", "max_samples=32", "network.num_workers=2",
                                       "eval.every_steps=4", "eval.max_eval_tokens=2048"])
    r = MainController(cfg, run_dir=tmp_path / "baseline", save_weights=False).run()
    before, after = r.curve[0]["perplexity"], r.final["perplexity"]
    print(f"smollm2-135m held-out perplexity {before:.2f} -> {after:.2f} after {r.server_steps} steps")
    assert r.curve[0]["step"] == 0 and r.server_steps == 4
    assert 10 < before < 60  # a pretrained model, not a random one (~49k)
    assert after < before * 0.97
