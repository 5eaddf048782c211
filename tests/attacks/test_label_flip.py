import pytest
import torch

from dist_llm_train.attacks import AttackContext, make_attack


def test_reverse_keeps_ignored_positions():
    # prepare
    batch = {"input_ids": torch.tensor([[5, 6, 7, 8]]), "labels": torch.tensor([[6, 7, -100, 0]])}
    # execute
    out = make_attack("label_flip").corrupt_batch(batch, AttackContext(vocab_size=10))
    # assert: t -> 9 - t, -100 stays, inputs untouched
    assert out["labels"].tolist() == [[3, 2, -100, 9]]
    assert torch.equal(out["input_ids"], batch["input_ids"])
    assert batch["labels"].tolist() == [[6, 7, -100, 0]]


def test_shift_is_a_permutation_and_labels_default_to_inputs():
    batch = {"input_ids": torch.arange(10)[None]}
    out = make_attack("label_flip", mode="shift=3").corrupt_batch(batch, AttackContext(vocab_size=10))
    assert out["labels"].tolist() == [[3, 4, 5, 6, 7, 8, 9, 0, 1, 2]]
    assert sorted(out["labels"][0].tolist()) == list(range(10))


def test_update_passes_through_and_errors_are_clear():
    a = make_attack("label_flip")
    g = torch.randn(4)
    assert torch.equal(a.apply(g, AttackContext()), g)
    with pytest.raises(ValueError, match="vocab_size"):
        a.corrupt_batch({"labels": torch.tensor([1])}, AttackContext())
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        a.corrupt_batch({"labels": torch.tensor([12])}, AttackContext(vocab_size=10))
    with pytest.raises(ValueError, match="mode"):
        make_attack("label_flip", mode="swap")
