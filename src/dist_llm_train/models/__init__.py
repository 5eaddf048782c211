"""models layer: presets (GPT-2, SmolLM2, BERT, MiniLM) built offline, with their tokenizers.

Public API: build_model(name, init, path, tokenizer, seed) -> BuiltModel; available_models();
load_tokenizer(spec) -> TextTokenizer.
"""

from dist_llm_train.models.built import BuiltModel
from dist_llm_train.models.presets import available_models, build_model, get_preset
from dist_llm_train.models.tokenizer import TextTokenizer, load_tokenizer

__all__ = ["BuiltModel", "TextTokenizer", "available_models", "build_model", "get_preset", "load_tokenizer"]
