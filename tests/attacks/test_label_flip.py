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


def _tiny_gpt2_gradients(batches: list[torch.Tensor], flipped: set[int]) -> torch.Tensor:
    """One gradient per batch of a tiny GPT-2 (shared weights) on real text; batches in `flipped`
    are trained on label-flipped targets, as a data-poisoning worker would."""
    from transformers import GPT2Config, GPT2LMHeadModel
    from transformers.utils import logging as hf_logging

    from dist_llm_train.layout import ParamLayout

    hf_logging.set_verbosity_error()
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=256, n_positions=32, n_embd=32, n_layer=1, n_head=2,
                                       resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0,
                                       eos_token_id=0))
    layout = ParamLayout.from_module(model)
    flip = make_attack("label_flip")
    out = torch.empty(len(batches), layout.numel)
    for k, ids in enumerate(batches):
        labels = ids if k not in flipped else flip.corrupt_batch({"input_ids": ids}, AttackContext(vocab_size=256))[
            "labels"]
        model.zero_grad(set_to_none=False)
        model(input_ids=ids, labels=labels).loss.backward()
        layout.flatten_grads(model, out=out[k])
    return out


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(a @ b / (a.norm() * b.norm()))


def test_flipped_targets_give_an_update_against_the_honest_ones_on_a_real_model():
    # prepare: 10 workers, each with 8 sequences of 32 bytes from its own part of the KJV text; the last 2 flip labels
    from dist_llm_train.aggregation import make_aggregator
    from dist_llm_train.aggregation.quality_benchmark import load_text

    data = torch.frombuffer(bytearray(load_text()[:2_000_000]), dtype=torch.uint8).long()
    g = torch.Generator().manual_seed(0)
    shard = len(data) // 10
    batches = [data[(k * shard + torch.randint(0, shard - 33, (8,), generator=g))[:, None] + torch.arange(32)]
               for k in range(10)]
    # execute
    grads = _tiny_gpt2_gradients(batches, flipped={8, 9})
    honest, bad = grads[:8], grads[8:]
    hbar = honest.mean(dim=0)
    # assert 1: each honest update agrees with the other honest ones (cosine ~0.9), the poisoned ones do not
    # (slightly negative cosine with the honest mean: the flipped targets ask for the opposite output distribution)
    honest_cos = [_cos(honest[i], torch.cat([honest[:i], honest[i + 1:]]).mean(dim=0)) for i in range(8)]
    bad_cos = [_cos(b, hbar) for b in bad]
    assert min(honest_cos) > 0.8, honest_cos
    assert max(bad_cos) < 0.0, bad_cos

    # assert 2: the poisoned rows pull the plain mean ~0.3 |hbar| away from the honest mean; robust rules are
    # pulled at most 0.6x as far, Multi-Krum filters exactly the two poisoned rows, and geomed and centered
    # clipping down-weight them
    def err(update: torch.Tensor) -> float:
        return float((update - hbar).norm() / hbar.norm())

    mean_err = err(make_aggregator("mean")(grads).update)
    assert mean_err > 0.25, mean_err
    for rule in ("median", "trimmed_mean", "multikrum", "geomed", "centered_clip"):
        assert err(make_aggregator(rule, f=2)(grads).update) < 0.6 * mean_err, rule
    mk = make_aggregator("multikrum", f=2)(grads)
    assert mk.trust[8:].tolist() == [0.0, 0.0] and mk.trust[:8].min() > 0
    for rule in ("geomed", "centered_clip"):
        trust = make_aggregator(rule, f=2)(grads).trust
        assert trust[8:].max() < 0.5 < trust[:8].min(), (rule, trust)
