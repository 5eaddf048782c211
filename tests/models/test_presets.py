"""build_model on real architectures in small configs; pretrained loading offline."""

import pytest
import torch

from dist_llm_train.errors import ConfigError, ResourceNotFoundError
from dist_llm_train.layout import ParamLayout
from dist_llm_train.models import available_models, build_model


def test_registry_lists_every_preset():
    assert set(available_models()) >= {
        "gpt2-tiny",
        "gpt2-mini",
        "gpt2-small",
        "gpt2-medium",
        "smollm2-135m",
        "bert-tiny",
        "bert-mini",
        "bert-base",
        "minilm-mlm",
    }


def test_gpt2_tiny_is_gpt2_with_real_vocab_and_tied_head():
    m = build_model("gpt2-tiny", init="random", seed=0)
    assert m.kind == "causal" and m.init == "random"
    assert m.vocab_size == 50257 and m.module.config.n_layer == 2 and m.module.config.n_embd == 128
    assert m.module.lm_head.weight.data_ptr() == m.module.transformer.wte.weight.data_ptr()
    assert m.layout == ParamLayout.from_module(m.module)
    assert m.num_params == sum(p.numel() for p in m.module.parameters())
    assert 50257 * 128 / m.num_params > 0.9  # the embedding is most of a tiny GPT-2
    ids = torch.tensor([m.tokenizer.encode("Hello world, this is a test")])
    out = m.module(input_ids=ids, labels=ids)
    assert out.logits.shape == (1, ids.shape[1], 50257)
    assert abs(out.loss.item() - torch.log(torch.tensor(50257.0)).item()) < 0.5  # near uniform at init


def test_random_init_is_deterministic_per_seed_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = build_model("gpt2-tiny", init="random", seed=7)
    after = torch.rand(1)
    b = build_model("gpt2-tiny", init="random", seed=7)
    c = build_model("gpt2-tiny", init="random", seed=8)
    fa, fb, fc = (m.layout.flatten_module(m.module) for m in (a, b, c))
    assert torch.equal(fa, fb) and not torch.equal(fa, fc)
    assert torch.equal(before, after)


def test_presets_have_no_dropout_so_gradients_are_deterministic():
    m = build_model("gpt2-tiny", init="random", seed=0)
    ids = torch.tensor([m.tokenizer.encode("The quick brown fox jumps over the lazy dog")])
    g = []
    for _ in range(2):
        m.module.zero_grad()
        m.module(input_ids=ids, labels=ids).loss.backward()
        g.append(m.layout.flatten_grads(m.module).clone())
    assert torch.equal(g[0], g[1])


def test_bert_tiny_mlm_shapes():
    m = build_model("bert-tiny", init="random")
    assert m.kind == "mlm" and m.vocab_size == 30522 and m.max_seq_len == 512
    ids = torch.tensor([[101, 7592, 103, 102]])
    labels = torch.tensor([[-100, -100, 2088, -100]])
    out = m.module(input_ids=ids, labels=labels)
    assert out.logits.shape == (1, 4, 30522) and torch.isfinite(out.loss)


def test_minilm_mlm_loads_the_shipped_pretrained_encoder():
    from safetensors import safe_open

    from dist_llm_train.models.assets import MINILM_DIR, asset_path

    m = build_model("minilm-mlm")
    assert m.init == "pretrained"
    with safe_open(str(asset_path(MINILM_DIR) / "model.safetensors"), "pt") as f:
        shipped = f.get_tensor("encoder.layer.3.attention.self.query.weight")
    assert torch.equal(m.module.bert.encoder.layer[3].attention.self.query.weight, shipped)
    head = m.module.cls.predictions.decoder.weight
    assert head.data_ptr() == m.module.bert.embeddings.word_embeddings.weight.data_ptr()
    assert m.layout == ParamLayout.from_module(m.module)


def test_missing_pretrained_weights_are_a_clear_error(tmp_path):
    with pytest.raises(ResourceNotFoundError, match="init: random"):
        build_model("gpt2-tiny", init="pretrained", path=str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="no published weights"):
        build_model("gpt2-tiny", init="pretrained")
    with pytest.raises(ConfigError, match="unknown model"):
        build_model("gpt3-huge")


def test_gpt2_small_pretrained_offline_or_the_error_that_says_where_weights_go():
    from transformers import GPT2LMHeadModel

    from dist_llm_train.models.gpt2 import SIZES, load_pretrained

    try:
        module, source = load_pretrained("gpt2-small", None)
    except ResourceNotFoundError as exc:  # the usual case on an offline machine without a HF cache
        msg = str(exc)
        assert "model.path" in msg and "models--openai-community--gpt2" in msg and "init: random" in msg
    else:  # this machine's Hugging Face cache has GPT-2: it must be the real one
        assert isinstance(module, GPT2LMHeadModel) and module.config.n_layer == SIZES["gpt2-small"].n_layer
        assert source


def test_pretrained_from_a_local_directory_round_trips(tmp_path):
    src = build_model("gpt2-tiny", init="random", seed=3)
    src.module.save_pretrained(tmp_path / "ckpt", safe_serialization=True)
    loaded = build_model("gpt2-tiny", init="pretrained", path=str(tmp_path / "ckpt"))
    assert loaded.init == "pretrained" and loaded.source == str(tmp_path / "ckpt")
    assert torch.equal(src.layout.flatten_module(src.module), loaded.layout.flatten_module(loaded.module))
    assert loaded.module.config.resid_pdrop == 0.0


def test_tokenizer_larger_than_embedding_is_rejected():
    with pytest.raises(ConfigError, match="embeds only"):
        from dist_llm_train.models.presets import _check_vocab
        from dist_llm_train.models.tokenizer import gpt2_tokenizer

        _check_vocab("bert-tiny", build_model("bert-tiny", init="random").module, gpt2_tokenizer())
