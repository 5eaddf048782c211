"""WorkerLogic on gpt2-tiny: H = 1 gradients, H > 1 pseudo-gradients, clipping, error feedback, attacks."""

from __future__ import annotations

import pytest
import torch

from dist_llm_train.attacks import make_attack
from dist_llm_train.attacks.base import AttackContext
from dist_llm_train.compression import ErrorFeedback, make_codec
from dist_llm_train.models import build_model

SEQ, BATCH = 16, 2


@pytest.fixture(scope="module")
def built():
    torch.set_num_threads(1)
    return build_model("gpt2-tiny", seed=0)


def _batches(vocab: int, seed: int):
    gen = torch.Generator().manual_seed(seed)

    def next_batch() -> dict[str, torch.Tensor]:
        ids = torch.randint(0, vocab, (BATCH, SEQ), generator=gen)
        return {"input_ids": ids, "labels": ids.clone()}

    return next_batch


def _worker(built, seed: int = 0, **kw):
    from dist_llm_train.worker import WorkerLogic

    kw.setdefault("encoder", make_codec("none"))
    return WorkerLogic(worker_id=0, module=built.module, layout=built.layout,
                       next_batch=_batches(built.vocab_size, seed), **kw)


def _grad_at(built, params: torch.Tensor, batch: dict) -> torch.Tensor:
    """The reference gradient: plain autograd on the module loaded with `params`."""
    built.module.train()
    built.layout.load_into_module(built.module, params)
    built.module.zero_grad(set_to_none=True)
    built.module(**batch).loss.backward()
    return built.layout.flatten_grads(built.module).clone()


def test_one_local_step_is_the_gradient(built):
    # prepare
    params = built.layout.flatten_module(built.module).clone()
    worker = _worker(built, seed=1)
    batch = _batches(built.vocab_size, 1)()
    # execute
    update, metrics = worker.compute_update(params)
    update = update.clone()
    ref = _grad_at(built, params, batch)
    # assert
    assert torch.allclose(update, ref, atol=1e-6)
    assert (metrics["samples"], metrics["tokens"]) == (BATCH, BATCH * SEQ)
    assert metrics["norm"] == pytest.approx(float(ref.norm()), rel=1e-5)


def test_local_steps_send_the_pseudo_gradient_start_minus_end(built):
    h, lr = 3, 0.05
    params = built.layout.flatten_module(built.module).clone()
    worker = _worker(built, seed=2, local_steps=h, local_optimizer="sgd", local_lr=lr)
    update, metrics = worker.compute_update(params)
    update = update.clone()
    # reference: three SGD steps by hand on the same batches
    batches = _batches(built.vocab_size, 2)
    end = params.clone()
    for _ in range(h):
        end -= lr * _grad_at(built, end, batches())
    assert torch.allclose(update, params - end, atol=1e-6)
    assert metrics["samples"] == h * BATCH and worker.steps_done == h
    one_step = lr * _grad_at(built, params, _batches(built.vocab_size, 2)())
    assert not torch.allclose(update, one_step, atol=1e-6)  # really three steps, not one


def test_local_steps_clip_each_inner_gradient_not_the_pseudo_gradient(built):
    h, lr, clip = 3, 10.0, 0.01
    params = built.layout.flatten_module(built.module).clone()
    worker = _worker(built, seed=4, local_steps=h, local_optimizer="sgd", local_lr=lr, clip_norm=clip)
    update = worker.compute_update(params)[0].clone()
    batches = _batches(built.vocab_size, 4)
    end = params.clone()
    for _ in range(h):
        g = _grad_at(built, end, batches())
        assert float(g.norm()) > clip  # the clip really bites on every inner step
        end -= lr * g * (clip / float(g.norm()))
    assert torch.allclose(update, params - end, atol=1e-6)
    # three inner steps of norm lr * clip = 0.1 each: the pseudo-gradient is far above the clip, and left so
    assert float(update.norm()) > 10 * clip


def test_clipping_to_a_norm_keeps_the_direction(built):
    params = built.layout.flatten_module(built.module).clone()
    raw, _ = _worker(built, seed=3).compute_update(params)
    raw = raw.clone()
    clipped, metrics = _worker(built, seed=3, clip_norm=0.01).compute_update(params)
    assert float(raw.norm()) > 0.01
    assert float(clipped.norm()) == pytest.approx(0.01, rel=1e-4)
    assert torch.allclose(clipped / clipped.norm(), raw / raw.norm(), atol=1e-5)
    assert metrics["norm"] == pytest.approx(float(raw.norm()), rel=1e-5)  # the pre-clip norm is reported


def test_error_feedback_keeps_what_the_codec_dropped(built):
    params = built.layout.flatten_module(built.module).clone()
    codec = make_codec("topk:0.01")
    ef = ErrorFeedback(codec)
    worker = _worker(built, seed=4, encoder=ef)
    honest = _worker(built, seed=4)
    # round 1: residual = update - what was sent
    msg = worker.run(params, base_version=0)
    u1, _ = honest.compute_update(params)
    sent1 = codec.decode(msg.encoded)
    assert torch.allclose(ef.residual, u1 - sent1, atol=1e-6)
    assert float(ef.residual.norm()) > 0
    # round 2: what is sent is top-k of (update + residual), and the residual carries the rest
    r1 = ef.residual.clone()
    msg2 = worker.run(params, base_version=0)
    u2, _ = honest.compute_update(params)
    sent2 = codec.decode(msg2.encoded)
    assert torch.allclose(sent2 + ef.residual, u2 + r1, atol=1e-5)
    assert msg.encoded.wire_bytes < 0.05 * 4 * built.layout.numel


def test_byzantine_worker_applies_its_attack(built):
    params = built.layout.flatten_module(built.module).clone()
    bad = _worker(built, seed=5, attack=make_attack("sign_flip", scale=2.0), attack_ctx=AttackContext())
    good = _worker(built, seed=5)
    assert bad.byzantine and not good.byzantine
    sent = make_codec("none").decode(bad.run(params, 7).encoded)
    honest = make_codec("none").decode(good.run(params, 7).encoded)
    assert torch.allclose(sent, -2.0 * honest, atol=1e-6)


def test_omniscient_attack_is_left_to_aggregation_time(built):
    # ALIE needs the round's honest updates, which a worker does not have: it sends the honest update
    # and the attack is crafted where those are known (see install_omniscient_attack)
    params = built.layout.flatten_module(built.module).clone()
    bad = _worker(built, seed=6, attack=make_attack("alie"))
    good = _worker(built, seed=6)
    assert bad.attack.omniscient
    assert torch.equal(make_codec("none").decode(bad.run(params, 0).encoded),
                       make_codec("none").decode(good.run(params, 0).encoded))


def test_local_steps_must_be_positive(built):
    with pytest.raises(ValueError, match="local_steps"):
        _worker(built, local_steps=0)
