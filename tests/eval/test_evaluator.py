"""Evaluator: token-weighted loss that matches the model's own loss, fixed blocks and masks, cheap caps."""

import math

import numpy as np
import pytest
import torch

from dist_llm_train.data import IGNORE_INDEX
from dist_llm_train.errors import ConfigError
from dist_llm_train.eval import Evaluator, select_blocks
from dist_llm_train.models import build_model


@pytest.fixture(scope="module")
def gpt2_tiny():
    return build_model("gpt2-tiny", init="random", seed=0)


def test_causal_loss_equals_the_models_own_mean_loss(wiki_causal, gpt2_tiny):
    ev = Evaluator.from_data(wiki_causal, max_eval_tokens=64 * 12, batch_size=5)  # uneven last batch
    assert ev.num_blocks == 12 and ev.tokens == 12 * 63
    res = ev.evaluate(gpt2_tiny.module)
    with torch.no_grad():
        ref = gpt2_tiny.module(input_ids=ev.inputs, labels=ev.inputs).loss.item()
    assert res["loss"] == pytest.approx(ref, rel=1e-5)
    assert res["perplexity"] == pytest.approx(math.exp(ref), rel=1e-5)
    assert res["mlm_accuracy"] is None
    assert 30000 < res["perplexity"] < 80000  # random init: about the vocabulary size, 50257


def test_same_blocks_every_call_and_training_mode_restored(wiki_causal, gpt2_tiny):
    ev = Evaluator.from_data(wiki_causal, max_eval_tokens=64 * 6)
    gpt2_tiny.module.train()
    a = ev.evaluate(gpt2_tiny.module)
    assert gpt2_tiny.module.training
    b = Evaluator.from_data(wiki_causal, max_eval_tokens=64 * 6).evaluate(gpt2_tiny.module)
    assert a == b


def test_max_eval_tokens_spreads_blocks_over_the_whole_split():
    blocks = np.zeros((100, 16), dtype=np.int64)
    idx = select_blocks(blocks, 16, 16 * 10)
    assert idx.size == 10 and idx[0] == 0 and idx[-1] == 99
    assert select_blocks(blocks, 16, None).size == 100
    assert select_blocks(blocks, 16, 3).size == 1  # at least one block


def test_mlm_accuracy_and_loss_on_fixed_masks(wiki_mlm):
    m = build_model("bert-tiny", init="random", seed=0)
    ev = Evaluator.from_data(wiki_mlm, max_eval_tokens=64 * 16, batch_size=8, mask_seed=7)
    again = Evaluator.from_data(wiki_mlm, max_eval_tokens=64 * 16, batch_size=8, mask_seed=7)
    other = Evaluator.from_data(wiki_mlm, max_eval_tokens=64 * 16, batch_size=8, mask_seed=8)
    assert torch.equal(ev.labels, again.labels) and not torch.equal(ev.labels, other.labels)
    res = ev.evaluate(m.module)
    with torch.no_grad():
        logits = m.module(input_ids=ev.inputs).logits
    sel = ev.labels != IGNORE_INDEX
    assert res["tokens"] == int(sel.sum()) and 0.1 < res["tokens"] / sel.numel() < 0.2
    acc = (logits[sel].argmax(-1) == ev.labels[sel]).float().mean().item()
    assert res["mlm_accuracy"] == pytest.approx(acc)
    ref = torch.nn.functional.cross_entropy(logits[sel], ev.labels[sel]).item()
    assert res["loss"] == pytest.approx(ref, rel=1e-4)


def test_evaluator_argument_errors(wiki_mlm):
    with pytest.raises(ConfigError, match="kind"):
        Evaluator("seq2seq", np.zeros((2, 8)))
    with pytest.raises(ConfigError, match="non-empty"):
        Evaluator("causal", np.zeros((0, 8)))
    with pytest.raises(ConfigError, match="mask_id"):
        Evaluator("mlm", wiki_mlm.eval_blocks)
