"""Reading, cleaning and splitting the real corpus."""
from __future__ import annotations

import json
import lzma

import pytest
from helpers import REPO

from regurgitative import profile
from regurgitative.data import corpus as C, prepare
from regurgitative.paths import PREPARED_DIR, condition_pool

pytestmark = pytest.mark.unit  # the test tier (tests/conftest.py)


# ------------------------------------------------------------------------------------------------ reading
def test_aligned_files_are_read_pairwise(tmp_path):
    (tmp_path / "a.de").write_text("Hallo Welt\nZwei\n", encoding="utf-8")
    (tmp_path / "a.en").write_text("Hello world\nTwo\n", encoding="utf-8")
    pairs = C.read_aligned(tmp_path / "a.de", tmp_path / "a.en")
    assert [(p.de, p.en) for p in pairs] == [("Hallo Welt", "Hello world"), ("Zwei", "Two")]


def test_aligned_files_with_different_line_counts_are_refused_not_truncated(tmp_path):
    (tmp_path / "a.de").write_text("eins\nzwei\ndrei\n", encoding="utf-8")
    (tmp_path / "a.en").write_text("one\ntwo\n", encoding="utf-8")
    with pytest.raises(C.CorpusError, match=r"a\.en has 2 lines but .*a\.de has more \(line 3"):
        C.read_aligned(tmp_path / "a.de", tmp_path / "a.en")


def test_undecodable_bytes_name_the_file_and_line(tmp_path):
    (tmp_path / "a.de").write_bytes("gut\nauch gut\nschlecht \xfc\n".encode("latin-1"))
    (tmp_path / "a.en").write_text("good\nalso good\nbad\n", encoding="utf-8")
    with pytest.raises(C.CorpusError, match=r"a\.de:3: not valid UTF-8"):
        C.read_aligned(tmp_path / "a.de", tmp_path / "a.en")


def test_tsv_line_without_tab_names_the_line(tmp_path):
    path = tmp_path / "c.tsv"
    path.write_text("Haus\thouse\nBaum tree\n", encoding="utf-8")
    with pytest.raises(C.CorpusError, match=r"c\.tsv:2: expected 2 tab-separated columns, found no tab"):
        C.read_tsv(path)


def test_tsv_with_header_and_xz(tmp_path):
    path = tmp_path / "c.tsv.xz"
    with lzma.open(path, "wt", encoding="utf-8") as f:
        f.write("doc\tid\tde\ten\nhelp/a.xhp\tp1\tDas Haus\tThe house\n")
    (pair,) = C.read_tsv(path)
    assert pair == C.Pair("help/a.xhp", "Das Haus", "The house")


def test_aligned_files_without_documents_get_block_documents(tmp_path):
    (tmp_path / "a.de").write_text("".join(f"s{i}\n" for i in range(5)), encoding="utf-8")
    (tmp_path / "a.en").write_text("".join(f"t{i}\n" for i in range(5)), encoding="utf-8")
    docs = [p.doc for p in C.read_aligned(tmp_path / "a.de", tmp_path / "a.en", doc_block=2)]
    assert docs == ["a.de#0", "a.de#0", "a.de#1", "a.de#1", "a.de#2"]
    assert [p.doc for p in C.read_aligned(tmp_path / "a.de", tmp_path / "a.en")] == [f"a.de#{i}" for i in range(5)]


# ----------------------------------------------------------------------------------------------- cleaning
RULES = C.CleaningRules(min_words=2, max_words=10, max_length_ratio=2.0)


def kept_and_dropped(pairs, rules=RULES):
    kept, dropped = C.clean([C.Pair("d", de, en) for de, en in pairs], rules)
    return [(p.de, p.en) for p in kept], dict(dropped)


def test_cleaning_normalises_whitespace_and_unicode():
    kept, _ = kept_and_dropped([("  Die\tTu\u0308r   ist offen ", "The door\u00a0is open")])
    assert kept == [("Die Tür ist offen", "The door is open")]


@pytest.mark.parametrize("de, en, rule", [
    ("", "Something here", "empty"),
    ("Das ist gut", "   ", "empty"),
    ("LibreOffice Calc", "LibreOffice Calc", "identical"),
    ("Hallo", "Hello there", "too_short"),
    ("ein " * 11, "a " * 9, "too_long"),
    ("Ein sehr langer deutscher Satz hier", "Yes no", "length_ratio"),
])
def test_each_filter_drops_and_counts(de, en, rule):
    kept, dropped = kept_and_dropped([(de, en)])
    assert kept == [] and dropped == {rule: 1}


def test_deduplication_keeps_the_first_translation_of_a_german_sentence():
    kept, dropped = kept_and_dropped([("Wähle Format - Zellen.", "Choose Format - Cells."),
                                      ("wähle format zellen", "Select Format Cells"),
                                      ("Wähle Format - Zeilen.", "Choose Format - Rows.")])
    assert kept == [("Wähle Format - Zellen.", "Choose Format - Cells."), ("Wähle Format - Zeilen.", "Choose Format - Rows.")]
    assert dropped == {"duplicate": 1}


# ---------------------------------------------------------------------------------------------- splitting
def make_corpus(n_docs=60, per_doc=10):
    return [C.Pair(f"doc{d:03d}", f"Satz {d} nummer {i} wort{d}x{i}", f"Sentence {d} number {i} word{d}x{i}")
            for d in range(n_docs) for i in range(per_doc)]


def test_split_has_exact_sizes_and_no_document_in_two_splits():
    split = C.split_by_document(make_corpus(), valid_size=50, test_size=80, seed=3)
    assert len(split.test) == 80 and len(split.valid) == 50
    docs = {name: {p.doc for p in getattr(split, name)} for name in ("pool", "valid", "test")}
    assert docs["pool"].isdisjoint(docs["test"]) and docs["pool"].isdisjoint(docs["valid"])
    assert docs["valid"].isdisjoint(docs["test"])
    assert len(split.pool) + 130 <= 600


def test_test_sentences_that_recur_in_the_pool_are_removed():
    pairs = make_corpus()
    # The same boilerplate sentence in every document: wherever test lands, it also lies in the pool.
    pairs += [C.Pair(f"doc{d:03d}", "Klicken Sie auf OK.", "Click OK.") for d in range(60)]
    split = C.split_by_document(pairs, valid_size=50, test_size=80, seed=3)
    assert all(p.en != "Click OK." for p in split.test + split.valid)
    assert split.dropped_as_leak > 0
    pool_keys = {C.dedup_key(p.de) for p in split.pool}
    assert not any(C.dedup_key(p.de) in pool_keys for p in split.test)


def test_split_is_deterministic_and_seed_dependent():
    a = C.split_by_document(make_corpus(), valid_size=50, test_size=80, seed=3)
    b = C.split_by_document(make_corpus(), valid_size=50, test_size=80, seed=3)
    c = C.split_by_document(make_corpus(), valid_size=50, test_size=80, seed=4)
    assert a == b and a.test != c.test


def test_too_small_corpus_is_refused_with_the_document_rule():
    with pytest.raises(C.CorpusError, match=r"(?s)only \d+ and \d+ were found\. Documents are never cut.*50 pairs "
                                            r"in 5 documents.*corpus\.files\.doc_block"):
        C.split_by_document(make_corpus(n_docs=5), valid_size=50, test_size=80, seed=1)


def test_aligned_files_without_document_ids_split_by_line(tmp_path):
    """A user's two aligned files (no doc ids): each line its own document, so test and valid can be held out
    (the whole file as one document left valid empty)."""
    pairs = make_corpus(n_docs=30, per_doc=10)
    for lang in ("de", "en"):
        (tmp_path / f"mine.{lang}").write_text("".join(getattr(p, lang) + "\n" for p in pairs), encoding="utf-8")
    read = C.read_aligned(tmp_path / "mine.de", tmp_path / "mine.en")
    assert len({p.doc for p in read}) == 300
    split = C.split_by_document(read, valid_size=50, test_size=80, seed=1)
    assert (len(split.test), len(split.valid), len(split.pool)) == (80, 50, 170)


def test_a_tsv_without_document_ids_splits_by_line_or_block(tmp_path):
    path = tmp_path / "c.tsv"
    path.write_text("".join(f"Satz {i} hier\tSentence {i} here\n" for i in range(6)), encoding="utf-8")
    assert [p.doc for p in C.read_tsv(path)] == [f"c.tsv#{i}" for i in range(6)]
    assert [p.doc for p in C.read_tsv(path, doc_block=3)] == ["c.tsv#0"] * 3 + ["c.tsv#1"] * 3


def test_a_users_own_test_and_valid_sets_are_taken_whole_and_kept_out_of_the_pool():
    pairs = make_corpus()
    test = [C.Pair("t", f"Eigener Testsatz {i} hier", f"Own test sentence {i} here") for i in range(7)]
    valid = [C.Pair("v", f"Eigener Validierungssatz {i} da", f"Own valid sentence {i} there") for i in range(4)]
    pairs += [test[0], C.Pair("doc000", "eigener testsatz 1 hier!", "A near-duplicate of a test pair")]
    split = C.split_by_document(pairs, valid_size=50, test_size=80, seed=1, test_given=test, valid_given=valid)
    assert split.test == test and split.valid == valid
    assert len(split.pool) == 600 and split.dropped_as_leak == 2
    # Only one given: the other is held out from the corpus as usual.
    split = C.split_by_document(make_corpus(), valid_size=50, test_size=80, seed=1, test_given=test)
    assert split.test == test and len(split.valid) == 50


def test_pool_size_larger_than_pool_is_refused():
    with pytest.raises(C.CorpusError, match="pool_size=10000 exceeds"):
        C.split_by_document(make_corpus(), valid_size=50, test_size=80, seed=1, pool_size=10000)


# ------------------------------------------------------------------------------ the embedded default corpus
def test_prepare_splits_the_embedded_corpus_by_help_file(tmp_path, monkeypatch):
    """The default profile's prepare stage on the committed LibreOffice help corpus (the ci profile runs on a
    user's own corpus instead): the held-out sizes, no help file in two splits, the pool as `real`'s."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data/corpus").symlink_to(REPO / "data/corpus")
    profile.write("default", tmp_path / "params.yaml", REPO / "profiles")
    prepare.main()
    stats = json.loads((PREPARED_DIR / "stats.json").read_text())
    assert stats["source"] == "libreoffice" and stats["test_pairs"] == 1000 and stats["valid_pairs"] == 500
    assert stats["pool_pairs"] > 20_000
    docs = {name: set((PREPARED_DIR / f"{name}.doc").read_text().splitlines()) for name in ("pool", "valid", "test")}
    assert docs["pool"].isdisjoint(docs["test"]) and docs["pool"].isdisjoint(docs["valid"])
    assert docs["valid"].isdisjoint(docs["test"])
    assert condition_pool("real").with_suffix(".de").read_text() == (PREPARED_DIR / "pool.de").read_text()
