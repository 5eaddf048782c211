"""Real corpora: fixed document-level splits with no overlap, and the user-file formats."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dist_llm_train.data import available_corpora, load_corpus
from dist_llm_train.data.corpus import split_by_key
from dist_llm_train.errors import ConfigError, PreconditionError, ResourceNotFoundError


def _no_overlap(c):
    tr, va, te = set(c.train), set(c.validation), set(c.test)
    assert not (tr & va) and not (tr & te) and not (va & te)


def test_wiki_split_sizes_are_fixed_and_disjoint(wiki):
    assert wiki.sizes() == {"train": 95, "validation": 5, "test": 5}
    assert 2_500_000 < wiki.chars()["train"] < 3_200_000
    assert "Anarchism" in wiki.titles["train"] + wiki.titles["validation"] + wiki.titles["test"]
    assert wiki.titles["validation"] == [
        "Afroasiatic languages",
        "Agriculture",
        "Aldous Huxley",
        "Appellate procedure in the United States",
        "Azerbaijan",
    ]
    _no_overlap(wiki)
    text = " ".join(wiki.train)
    assert "{{" not in text and "[[" not in text and "'''" not in text  # markup is gone


def test_wiki_second_load_comes_from_the_parquet_cache(wiki):
    again = load_corpus("wiki")
    assert again.train == wiki.train and again.titles == wiki.titles


def test_shakespeare_and_kjv(tmp_path):
    kjv = load_corpus("kjv")
    assert sum(kjv.sizes().values()) == 1189  # chapters of the King James Bible
    assert kjv.train[0].startswith("In the beginning God created the heaven and the earth.")
    _no_overlap(kjv)
    try:
        sh = load_corpus("shakespeare")
    except ResourceNotFoundError as exc:
        assert "shakespeare>=0.6" in str(exc)
    else:
        assert sum(sh.sizes().values()) >= 40 and len(sh.validation) >= 2
        assert any("Hamlet" in d[:200] or "HAMLET" in d[:200] for d in sh.train + sh.validation + sh.test)
        _no_overlap(sh)


def test_split_is_a_function_of_keys_not_order():
    keys = [f"doc{i}" for i in range(100)]
    docs = [f"text of {k}" for k in keys]
    a = split_by_key("x", keys, docs)
    b = split_by_key("x", keys[::-1], docs[::-1])
    assert set(a.validation) == set(b.validation) and set(a.test) == set(b.test)
    assert a.sizes() == {"train": 90, "validation": 5, "test": 5}
    with pytest.raises(PreconditionError, match="at least 3"):
        split_by_key("x", ["a", "b"], ["a", "b"])


def test_text_file_paragraphs_are_documents(tmp_path):
    paras = [f"Paragraph number {i} says something about topic {i % 7}." for i in range(40)]
    f = tmp_path / "mine.txt"
    f.write_text("\n\n".join(paras) + "\n\n\n")
    c = load_corpus(f"text:{f}")
    assert sum(c.sizes().values()) == 40 and len(c.validation) == 2 and len(c.test) == 2
    assert sorted(c.train + c.validation + c.test) == sorted(paras)
    d = tmp_path / "dir"
    d.mkdir()
    for i in range(5):
        (d / f"{i}.txt").write_text(f"file {i}\nline two")
    assert sum(load_corpus(f"text:{d}").sizes().values()) == 5


def test_parquet_rows_and_explicit_split(tmp_path):
    p = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"text": [f"row {i}" for i in range(30)], "n": list(range(30))}), p)
    assert sum(load_corpus(f"parquet:{p}").sizes().values()) == 30
    q = tmp_path / "split.parquet"
    pq.write_table(pa.table({"body": ["a", "b", "c", "d"], "split": ["train", "train", "validation", "test"]}), q)
    c = load_corpus(f"parquet:{q}")
    assert (c.train, c.validation, c.test) == (["a", "b"], ["c"], ["d"])


def test_bad_corpus_names_are_explained(tmp_path):
    assert {"wiki", "shakespeare", "kjv", "wikitext-2", "text:PATH", "parquet:PATH"} <= set(available_corpora())
    with pytest.raises(ConfigError, match="unknown corpus"):
        load_corpus("wikipedia-all")
    with pytest.raises(ResourceNotFoundError, match="does not exist"):
        load_corpus(f"text:{tmp_path / 'missing.txt'}")
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(ConfigError, match="not a readable parquet"):
        load_corpus(f"parquet:{bad}")
    two = tmp_path / "two.parquet"
    pq.write_table(pa.table({"a": ["x"], "b": ["y"]}), two)
    with pytest.raises(ConfigError, match="needs a `text` column"):
        load_corpus(f"parquet:{two}")


def test_wikitext_without_cache_says_how_to_get_it():
    try:
        c = load_corpus("wikitext-2")
    except ResourceNotFoundError as exc:
        assert "wikitext-2-raw-v1" in str(exc) and "wiki" in str(exc)
    else:  # a machine whose HF cache has it: the standard splits
        assert len(c.validation) > 0 and len(c.test) > 0


def test_wikitext_articles_start_at_top_level_headings():
    from dist_llm_train.data.wikitext import articles

    lines = [
        " \n",
        " = Valkyria Chronicles III = \n",
        " \n",
        " Senjō no Valkyria 3 is a tactical role @-@ playing game . \n",
        " = = Gameplay = = \n",
        " The game began development in 2010 . \n",
        " = Tower Building of the Little Rock Arsenal = \n",
        " The Tower Building is a building in Little Rock . \n",
    ]
    titles, docs = articles(lines)
    assert titles == ["Valkyria Chronicles III", "Tower Building of the Little Rock Arsenal"]
    assert "= = Gameplay = =" in docs[0] and "2010" in docs[0] and "Little Rock" in docs[1]
