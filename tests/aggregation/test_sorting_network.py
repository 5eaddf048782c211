import itertools

import pytest
import torch

from dist_llm_train.aggregation.sorting_network import batcher_pairs, selection_network, sorted_ranks


@pytest.mark.parametrize("n", range(1, 13))
def test_network_sorts_every_zero_one_input(n):
    # prepare: all 2^n inputs of zeros and ones (the 0-1 principle: sorting them all proves the network)
    x = torch.tensor(list(itertools.product([0.0, 1.0], repeat=n))).T.contiguous()
    # execute
    out = sorted_ranks(x, tuple(range(n)))
    # assert
    assert torch.equal(torch.stack([out[r] for r in range(n)]), x.sort(dim=0).values)


def test_network_is_smaller_than_transposition_sort():
    assert len(batcher_pairs(10)) == 32 < 45


@pytest.mark.parametrize("n,ranks", [(10, (4, 5)), (9, (4,)), (10, (0, 1, 8, 9)), (7, (2, 3, 4))])
def test_pruned_network_gives_the_asked_ranks_on_random_data(n, ranks):
    x = torch.randn(n, 500, generator=torch.Generator().manual_seed(n))
    full = len(selection_network(n, tuple(range(n))))
    out = sorted_ranks(x, ranks)
    ref = x.sort(dim=0).values
    for r in ranks:
        assert torch.equal(out[r], ref[r])
    assert len(selection_network(n, ranks)) <= full


def test_input_rows_are_never_written():
    x = torch.randn(6, 100)
    before = x.clone()
    sorted_ranks(x, (0, 5))
    assert torch.equal(x, before)


def test_bad_ranks_are_rejected():
    with pytest.raises(ValueError, match="outside"):
        selection_network(4, (4,))
