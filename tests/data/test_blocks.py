"""Packing real wiki text into blocks, and the on-disk token cache."""

import time

import numpy as np
import pytest

from dist_llm_train.data import prepare_lm_data
from dist_llm_train.data.token_cache import stream_key, tokenized_stream
from dist_llm_train.errors import ConfigError, PreconditionError


def test_causal_blocks_are_the_packed_token_stream(wiki, gpt2_tok, wiki_causal):
    d = wiki_causal
    assert d.train_blocks.shape[1] == 64 and d.train_blocks.dtype == np.uint16
    first_doc = gpt2_tok.encode(wiki.train[0])
    assert d.train_blocks[0].tolist() == first_doc[:64]
    stream = d.train_blocks.reshape(-1)
    assert stream[len(first_doc)] == gpt2_tok.eos_id  # documents separated by <|endoftext|>
    assert d.train_doc_ids[0] == 0 and d.train_doc_ids[-1] == len(wiki.train) - 1
    assert np.all(np.diff(d.train_doc_ids) >= 0)
    # every document id that starts a block is the document that holds that block's first token
    k = len(first_doc) // 64 + 1
    assert d.train_doc_ids[k] >= 1
    assert d.eval_blocks.shape[0] > 300 and d.test_blocks.shape[0] > 200


def test_mlm_blocks_are_wrapped_in_cls_sep(wiki_mlm, bert_tok):
    d = wiki_mlm
    assert np.all(d.train_blocks[:, 0] == bert_tok.cls_id) and np.all(d.train_blocks[:, -1] == bert_tok.sep_id)
    assert d.mask_id == 103 and set(d.special_ids.tolist()) == {0, 101, 102, 103}
    assert "afroasiatic" in bert_tok.decode(d.eval_blocks[0].tolist())


def test_token_cache_hits_on_second_call_and_keys_on_tokenizer(wiki, gpt2_tok, bert_tok):
    docs = wiki.validation
    a_tokens, a_starts = tokenized_stream(docs, gpt2_tok, gpt2_tok.eos_id)
    t = time.perf_counter()
    b_tokens, b_starts = tokenized_stream(docs, gpt2_tok, gpt2_tok.eos_id)
    assert time.perf_counter() - t < 0.5
    assert isinstance(b_tokens, np.memmap)  # read back memory-mapped, not re-tokenized
    assert np.array_equal(a_tokens, b_tokens) and np.array_equal(a_starts, b_starts)
    assert stream_key(docs, gpt2_tok, gpt2_tok.eos_id) != stream_key(docs, bert_tok, bert_tok.sep_id)
    assert stream_key(docs, gpt2_tok, gpt2_tok.eos_id) != stream_key(docs[:-1], gpt2_tok, gpt2_tok.eos_id)
    fresh, _ = tokenized_stream(docs, gpt2_tok, gpt2_tok.eos_id, cache=False)
    assert np.array_equal(fresh, a_tokens)


def test_max_train_tokens_keeps_a_seeded_subset(wiki, gpt2_tok, wiki_causal):
    small = prepare_lm_data(wiki, gpt2_tok, 64, "causal", seed=1, max_train_tokens=64 * 100)
    again = prepare_lm_data(wiki, gpt2_tok, 64, "causal", seed=1, max_train_tokens=64 * 100)
    other = prepare_lm_data(wiki, gpt2_tok, 64, "causal", seed=2, max_train_tokens=64 * 100)
    assert small.num_train_blocks == 100
    assert np.array_equal(small.train_blocks, again.train_blocks)
    assert not np.array_equal(small.train_blocks, other.train_blocks)
    assert np.array_equal(small.eval_blocks, wiki_causal.eval_blocks)  # held-out data never subsampled


def test_bad_arguments_are_explained(wiki, gpt2_tok, bert_tok):
    with pytest.raises(ConfigError, match="kind must be"):
        prepare_lm_data(wiki, gpt2_tok, 64, "seq2seq")
    with pytest.raises(ConfigError, match="cannot feed a masked LM"):
        prepare_lm_data(wiki, gpt2_tok, 64, "mlm")
    with pytest.raises(ConfigError, match="context length"):
        prepare_lm_data(wiki, gpt2_tok, 512, "causal", max_positions=256)
    from dist_llm_train.data.corpus import Corpus

    tiny = Corpus("tiny", ["a b c d e f g h i j"] * 3, ["short"], ["short"])
    with pytest.raises(PreconditionError, match="fewer than one block"):
        prepare_lm_data(tiny, gpt2_tok, 8, "causal", cache=False)
