"""BERT masking statistics on real WordPiece blocks: ~15% chosen, 80/10/10, specials never touched."""

import numpy as np

from dist_llm_train.data import IGNORE_INDEX, mask_tokens


def test_masking_statistics(wiki_mlm):
    d = wiki_mlm
    ids = np.asarray(d.train_blocks[:2000], dtype=np.int64)
    inputs, labels = mask_tokens(ids, np.random.default_rng(0), d.mask_id, d.vocab_size, d.special_ids, 0.15)
    special = np.isin(ids, d.special_ids)
    chosen = labels != IGNORE_INDEX
    rate = chosen.sum() / (~special).sum()
    assert abs(rate - 0.15) < 0.005
    assert not chosen[special].any() and np.array_equal(inputs[special], ids[special])
    assert np.array_equal(labels[chosen], ids[chosen])
    as_mask = (inputs == d.mask_id) & chosen
    kept = (inputs == ids) & chosen
    replaced = chosen & ~as_mask & ~kept
    n = chosen.sum()
    # a random replacement can hit the original token (p ~ 1/30522): counted as kept, negligible
    assert abs(as_mask.sum() / n - 0.8) < 0.01
    assert abs(replaced.sum() / n - 0.1) < 0.01
    assert abs(kept.sum() / n - 0.1) < 0.01
    assert not np.isin(inputs[replaced], d.special_ids).any()
    assert np.array_equal(inputs[~chosen], ids[~chosen])


def test_masking_is_a_function_of_the_seed(wiki_mlm):
    d = wiki_mlm
    ids = np.asarray(d.train_blocks[:50], dtype=np.int64)
    a = mask_tokens(ids, np.random.default_rng(3), d.mask_id, d.vocab_size, d.special_ids)
    b = mask_tokens(ids, np.random.default_rng(3), d.mask_id, d.vocab_size, d.special_ids)
    c = mask_tokens(ids, np.random.default_rng(4), d.mask_id, d.vocab_size, d.special_ids)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
