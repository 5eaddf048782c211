"""Shared, real fixtures for data tests: the wiki corpus and its GPT-2 / WordPiece blocks (cached on disk)."""

import pytest

from dist_llm_train.data import load_corpus, prepare_lm_data
from dist_llm_train.models.tokenizer import bert_uncased_tokenizer, gpt2_tokenizer


@pytest.fixture(scope="session")
def wiki():
    return load_corpus("wiki")


@pytest.fixture(scope="session")
def gpt2_tok():
    return gpt2_tokenizer()


@pytest.fixture(scope="session")
def bert_tok():
    return bert_uncased_tokenizer()


@pytest.fixture(scope="session")
def wiki_causal(wiki, gpt2_tok):
    return prepare_lm_data(wiki, gpt2_tok, 64, "causal")


@pytest.fixture(scope="session")
def wiki_mlm(wiki, bert_tok):
    return prepare_lm_data(wiki, bert_tok, 64, "mlm")
