"""Tokenized documents cached on disk as numpy arrays, so the second run starts in seconds.

A split is stored as one token stream (each document's ids followed by the separator id) plus the
offset where each document starts. Arrays are .npy files (uint16 when the vocabulary fits, else
uint32) opened with mmap, never pickled. The file name is a digest of the documents' text, the
tokenizer's fingerprint, the separator and a format version: any change gives a new file.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dist_llm_train.models.tokenizer import TextTokenizer
from dist_llm_train.paths import cache_dir

VERSION = "tok-v1"
_ENCODE_CHUNK = 256  # documents per encode_batch call


def stream_key(docs: Sequence[str], tokenizer: TextTokenizer, separator: int | None) -> str:
    h = hashlib.sha256(f"{VERSION}|{tokenizer.fingerprint}|{separator}|{len(docs)}|".encode())
    for d in docs:
        h.update(d.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:24]


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= np.iinfo(np.uint16).max + 1 else np.dtype(np.uint32)


def tokenized_stream(
    docs: Sequence[str], tokenizer: TextTokenizer, separator: int | None, cache: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """(tokens, doc_starts): the documents' ids joined (each followed by `separator` when given).

    doc_starts[i] is the offset of document i's first token; tokens is read-only (memory-mapped)
    when it comes from the cache.
    """
    if not cache:
        return _encode(docs, tokenizer, separator)
    base = cache_dir("tokens") / stream_key(docs, tokenizer, separator)
    tok_path, start_path = Path(f"{base}.tokens.npy"), Path(f"{base}.starts.npy")
    if tok_path.exists() and start_path.exists():
        return np.load(tok_path, mmap_mode="r", allow_pickle=False), np.load(start_path, allow_pickle=False)
    tokens, starts = _encode(docs, tokenizer, separator)
    _save_atomic(start_path, starts)
    _save_atomic(tok_path, tokens)  # written last: its presence marks a complete entry
    return tokens, starts


def _encode(docs: Sequence[str], tokenizer: TextTokenizer, separator: int | None) -> tuple[np.ndarray, np.ndarray]:
    dtype = token_dtype(tokenizer.vocab_size)
    pieces: list[np.ndarray] = []
    lengths: list[int] = []
    tail = [] if separator is None else [separator]
    for i in range(0, len(docs), _ENCODE_CHUNK):
        for ids in tokenizer.encode_batch(list(docs[i : i + _ENCODE_CHUNK])):
            arr = np.asarray(ids + tail, dtype=dtype)
            pieces.append(arr)
            lengths.append(arr.size)
    tokens = np.concatenate(pieces) if pieces else np.zeros(0, dtype=dtype)
    starts = np.zeros(len(lengths), dtype=np.int64)
    if lengths:
        starts[1:] = np.cumsum(lengths)[:-1]
    return tokens, starts


def _save_atomic(path: Path, arr: np.ndarray) -> None:
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}.npy")
    np.save(tmp, arr, allow_pickle=False)
    os.replace(tmp, path)
