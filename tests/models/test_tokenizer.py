"""Real tokenizers from shipped files: GPT-2's exact BPE and bert-base-uncased WordPiece."""

import json

import pytest

from dist_llm_train.errors import ConfigError, ResourceNotFoundError
from dist_llm_train.models.tokenizer import bert_uncased_tokenizer, gpt2_tokenizer, load_tokenizer


def test_gpt2_bpe_matches_published_ids():
    tok = gpt2_tokenizer()
    assert tok.encode("Hello world") == [15496, 995]
    assert tok.vocab_size == 50257
    assert tok.eos_id == 50256 and tok.pad_id == 50256 and tok.mask_id is None
    # a leading space is its own merge in GPT-2's byte-level BPE
    assert tok.encode(" Hello") == [18435]


def test_gpt2_round_trips_unicode_and_keeps_special_text_literal():
    tok = gpt2_tokenizer()
    text = "Al-Khwārizmī (c. 780–850) wrote <|endoftext|> here"
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert tok.eos_id not in ids  # the special token is only ever inserted by the packer
    assert tok.encode_batch(["Hello world", text]) == [[15496, 995], ids]


def test_bert_wordpiece_known_examples():
    tok = bert_uncased_tokenizer()
    assert tok.vocab_size == 30522
    assert tok.encode("Hello world") == [7592, 2088]
    assert tok.tokens("I have a new GPU!") == ["i", "have", "a", "new", "gp", "##u", "!"]
    assert (tok.pad_id, tok.cls_id, tok.sep_id, tok.mask_id) == (0, 101, 102, 103)
    assert tok.special_ids == frozenset({0, 101, 102, 103})


def test_bert_tokenizer_is_not_truncated_by_shipped_settings():
    tok = bert_uncased_tokenizer()
    assert len(tok.encode("word " * 1000)) == 1000


def test_user_tokenizer_json_and_vocab_dir(tmp_path):
    src = bert_uncased_tokenizer()
    (tmp_path / "tok").mkdir()
    src._tok.save(str(tmp_path / "tok" / "tokenizer.json"))
    by_file = load_tokenizer(str(tmp_path / "tok" / "tokenizer.json"))
    by_dir = load_tokenizer(str(tmp_path / "tok"))
    assert by_file.encode("Hello world") == by_dir.encode("Hello world") == [7592, 2088]
    assert by_file.fingerprint == src.fingerprint

    vocab_dir = tmp_path / "my-uncased"
    vocab_dir.mkdir()
    vocab = sorted(json.loads(src._tok.to_str())["model"]["vocab"].items(), key=lambda kv: kv[1])
    (vocab_dir / "vocab.txt").write_text("\n".join(t for t, _ in vocab) + "\n")
    assert load_tokenizer(str(vocab_dir)).encode("Hello world") == [7592, 2088]


def test_bad_tokenizer_specs_are_explained(tmp_path):
    with pytest.raises(ResourceNotFoundError, match="neither a built-in name"):
        load_tokenizer(str(tmp_path / "absent"))
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not a valid tokenizer.json"):
        load_tokenizer(str(bad))
    other = tmp_path / "vocab.bin"
    other.write_bytes(b"\x00")
    with pytest.raises(ConfigError, match="tokenizer.json or a .tiktoken"):
        load_tokenizer(str(other))
