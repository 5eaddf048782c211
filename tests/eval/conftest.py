"""Real wiki blocks for evaluator tests (shared with tests/data through the on-disk token cache)."""

import pytest

from dist_llm_train.data import load_corpus, prepare_lm_data
from dist_llm_train.models.tokenizer import bert_uncased_tokenizer, gpt2_tokenizer


@pytest.fixture(scope="session")
def wiki_causal():
    return prepare_lm_data(load_corpus("wiki"), gpt2_tokenizer(), 64, "causal")


@pytest.fixture(scope="session")
def wiki_mlm():
    return prepare_lm_data(load_corpus("wiki"), bert_uncased_tokenizer(), 64, "mlm")
