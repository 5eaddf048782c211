"""GPT-2 presets: the real GPT-2 architecture (transformers' GPT2LMHeadModel) at four sizes.

gpt2-small and gpt2-medium are the published models, loaded from local weights when the user has
them. gpt2-tiny and gpt2-mini keep GPT-2's vocabulary (50257 BPE tokens) and block design but are
shrunk for CPU runs; note that most of their parameters are the tied 50257-row token embedding.
Dropout is 0 in every preset so that a worker's gradient is a pure function of (parameters, batch):
the simulator's reproducibility and the robust-aggregation experiments depend on that.
"""

from __future__ import annotations

from dataclasses import dataclass

from dist_llm_train.models.hf_loading import from_pretrained_offline
from dist_llm_train.models.seeding import seeded

NO_DROPOUT = {"resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0}


@dataclass(frozen=True)
class GPT2Size:
    n_layer: int
    n_embd: int
    n_head: int
    n_positions: int
    hub_ids: tuple[str, ...] = ()  # where published weights live in a Hugging Face cache


SIZES = {
    "gpt2-tiny": GPT2Size(n_layer=2, n_embd=128, n_head=2, n_positions=256),
    "gpt2-mini": GPT2Size(n_layer=4, n_embd=256, n_head=4, n_positions=512),
    "gpt2-small": GPT2Size(
        n_layer=12, n_embd=768, n_head=12, n_positions=1024, hub_ids=("openai-community/gpt2", "gpt2")
    ),
    "gpt2-medium": GPT2Size(
        n_layer=24, n_embd=1024, n_head=16, n_positions=1024, hub_ids=("openai-community/gpt2-medium", "gpt2-medium")
    ),
}


def gpt2_config(size: GPT2Size, vocab_size: int = 50257):
    from transformers import GPT2Config

    return GPT2Config(
        vocab_size=vocab_size,
        n_positions=size.n_positions,
        n_embd=size.n_embd,
        n_layer=size.n_layer,
        n_head=size.n_head,
        bos_token_id=vocab_size - 1,
        eos_token_id=vocab_size - 1,
        **NO_DROPOUT,
    )


def build_random(name: str, seed: int, vocab_size: int = 50257):
    from transformers import GPT2LMHeadModel

    cfg = gpt2_config(SIZES[name], vocab_size)
    return seeded(seed, lambda: GPT2LMHeadModel(cfg))


def load_pretrained(name: str, path: str | None):
    """(module, source) from model.path or the HF cache; ResourceNotFoundError when absent."""
    from transformers import GPT2LMHeadModel

    size = SIZES[name]
    module, source = from_pretrained_offline(GPT2LMHeadModel, path, size.hub_ids, what=name, **NO_DROPOUT)
    return module, source
