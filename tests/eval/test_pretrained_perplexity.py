"""Pretrained SmolLM2-135M (from the shipped GGUF) on held-out Wikipedia text: real-model perplexity.

Measured here: validation perplexity ~20.6 on 4080 tokens (seq_len 256), against ~6200 for the same
tokens shuffled; a model that is broken (bad de-quantization, wrong tokenizer, untied head) lands in
the thousands. Slow: the first run converts the GGUF (~40 s idle) and the forward passes cost ~1 TFLOP.
"""

import numpy as np
import pytest

from dist_llm_train.data import load_corpus, prepare_lm_data
from dist_llm_train.eval import Evaluator
from dist_llm_train.models import build_model


@pytest.mark.slow
def test_smollm2_perplexity_is_that_of_a_real_pretrained_model():
    m = build_model("smollm2-135m")
    assert m.init == "pretrained" and m.vocab_size == 49152 and 130e6 < m.num_params < 140e6
    assert m.tokenizer.decode(m.tokenizer.encode("Hello world")) == "Hello world"
    d = prepare_lm_data(load_corpus("wiki"), m.tokenizer, 256, "causal", max_positions=m.max_seq_len)
    ppl = Evaluator.from_data(d, max_eval_tokens=4096, batch_size=4).evaluate(m.module)["perplexity"]
    shuffled = np.random.default_rng(0).permutation(d.eval_blocks.reshape(-1)).reshape(d.eval_blocks.shape)
    control = Evaluator("causal", shuffled, max_eval_tokens=4096, batch_size=4).evaluate(m.module)["perplexity"]
    print(f"smollm2-135m wiki validation perplexity {ppl:.1f}, shuffled-token control {control:.0f}")
    assert ppl < 60
    assert control > 20 * ppl


@pytest.mark.slow
def test_second_load_uses_the_safetensors_cache():
    import time

    build_model("smollm2-135m")  # converts on a cold cache
    t = time.perf_counter()
    build_model("smollm2-135m")
    assert time.perf_counter() - t < 30
