"""Real German-English pairs: reading them strictly, cleaning them, splitting them by document.

Readers never truncate: two files with different line counts, undecodable bytes or a TSV line without a tab
raise CorpusError naming the file and the line.
"""
from __future__ import annotations

import lzma
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from regurgitative.text import dedup_key, normalize


class CorpusError(ValueError):
    """Bad input; the message names the file and, where there is one, the line."""


@dataclass(frozen=True)
class Pair:
    doc: str   # the document a pair comes from: splits never cut through one
    de: str
    en: str


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line without its newline). Lines are read as bytes and decoded one by one, strictly:
    a wrong encoding must stop the run with its line number, not become U+FFFD in the training data."""
    opener = lzma.open if path.suffix == ".xz" else open
    try:
        f = opener(path, "rb")
    except FileNotFoundError:
        raise CorpusError(f"{path}: no such file") from None
    with f:
        for lineno, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise CorpusError(f"{path}:{lineno}: not valid UTF-8 (byte {e.start + 1} of the line: "
                                  f"{raw[e.start:e.start + 1]!r}, {e.reason})") from None
            yield lineno, line.rstrip("\n").rstrip("\r")


def line_doc(path: Path, lineno: int, doc_block: int) -> str:
    """The document of a line in a corpus without document ids: its block of `doc_block` consecutive lines
    (Europarl: 100 lines of one debate), or the line itself (doc_block 0 or 1: sentences are independent)."""
    block = doc_block if doc_block and doc_block > 1 else 1
    return f"{path.name}#{(lineno - 1) // block}"


def read_aligned(de_path: Path | str, en_path: Path | str, doc_block: int = 0) -> list[Pair]:
    """Two line-aligned files. Without document ids, consecutive blocks of `doc_block` lines stand in for
    documents (0 or 1: each line is its own document)."""
    de_path, en_path = Path(de_path), Path(en_path)
    pairs: list[Pair] = []
    de_iter, en_iter = _lines(de_path), _lines(en_path)
    while True:
        de_item, en_item = next(de_iter, None), next(en_iter, None)
        if de_item is None and en_item is None:
            return pairs
        if de_item is None or en_item is None:
            longer, shorter = (en_path, de_path) if de_item is None else (de_path, en_path)
            n = len(pairs)
            raise CorpusError(f"{shorter} has {n} lines but {longer} has more (line {n + 1} has no partner): "
                              f"the files are not aligned; refusing to truncate")
        lineno, de = de_item
        _, en = en_item
        pairs.append(Pair(line_doc(de_path, lineno, doc_block), de, en))


def read_tsv(path: Path | str, doc_block: int = 0) -> list[Pair]:
    """A TSV of pairs, plain or .xz: `de<TAB>en`, `doc<TAB>de<TAB>en`, or any columns under a header line
    that names `de` and `en` (and optionally `doc`). Every line must have as many columns as the first.
    Without a doc column, blocks of `doc_block` lines are the documents (0 or 1: each line its own)."""
    path = Path(path)
    pairs: list[Pair] = []
    columns: dict[str, int] | None = None
    width = 0
    for lineno, line in _lines(path):
        fields = line.split("\t")
        if columns is None:
            if len(fields) < 2:
                raise CorpusError(f"{path}:{lineno}: expected tab-separated columns (de<TAB>en), found no tab")
            width = len(fields)
            if {"de", "en"} <= set(fields):
                columns = {name: i for i, name in enumerate(fields)}
                continue
            columns = {"de": 0, "en": 1} if width == 2 else {"doc": 0, "de": 1, "en": 2}
        if len(fields) != width:
            found = "no tab" if len(fields) == 1 else f"{len(fields)} columns"
            raise CorpusError(f"{path}:{lineno}: expected {width} tab-separated columns, found {found}")
        doc = fields[columns["doc"]] if "doc" in columns else line_doc(path, lineno, doc_block)
        pairs.append(Pair(doc, fields[columns["de"]], fields[columns["en"]]))
    return pairs


# ---------------------------------------------------------------------------------------------- cleaning
@dataclass(frozen=True)
class CleaningRules:
    min_words: int = 1
    max_words: int = 80
    max_length_ratio: float = 3.0   # longer side / shorter side, in characters
    drop_identical: bool = True     # de == en: untranslated UI strings, code, numbers
    deduplicate: bool = True        # one pair per German sentence (conditions share the German side)


def clean(pairs: Iterable[Pair], rules: CleaningRules) -> tuple[list[Pair], Counter]:
    """Normalise and filter; returns the kept pairs and how many were dropped by which rule."""
    kept: list[Pair] = []
    dropped: Counter = Counter()
    seen: set[str] = set()
    for p in pairs:
        de, en = normalize(p.de), normalize(p.en)
        if not de or not en:
            dropped["empty"] += 1
            continue
        if rules.drop_identical and dedup_key(de) == dedup_key(en):
            dropped["identical"] += 1
            continue
        n_de, n_en = len(de.split()), len(en.split())
        if min(n_de, n_en) < rules.min_words:
            dropped["too_short"] += 1
            continue
        if max(n_de, n_en) > rules.max_words:
            dropped["too_long"] += 1
            continue
        if max(len(de), len(en)) / min(len(de), len(en)) > rules.max_length_ratio:
            dropped["length_ratio"] += 1
            continue
        if rules.deduplicate:
            key = dedup_key(de)
            if key in seen:
                dropped["duplicate"] += 1
                continue
            seen.add(key)
        kept.append(Pair(p.doc, de, en))
    return kept, dropped


# --------------------------------------------------------------------------------------------- splitting
@dataclass
class Split:
    pool: list[Pair]
    valid: list[Pair]
    test: list[Pair]
    dropped_as_leak: int = 0


def split_by_document(pairs: list[Pair], valid_size: int, test_size: int, seed: int,
                      pool_size: int | None = None, test_given: list[Pair] | None = None,
                      valid_given: list[Pair] | None = None) -> Split:
    """Whole documents go to test, then to valid, the rest to the training pool, so boilerplate shared
    within a document cannot leak. Test and valid are also deduplicated against the pool, since
    near-duplicates recur across documents. The pool is shuffled so that its first n pairs are a random
    sample: every training size is a prefix, and smaller training sets nest in larger ones.

    A test or valid set of the user's own (`test_given`, `valid_given`) is taken whole instead of held out
    from `pairs`, and every pair of the corpus that near-duplicates one of its pairs is left out of the pool."""
    given = [*(test_given or []), *(valid_given or [])]
    given_leaks = 0
    if given:
        given_keys = {k for p in given for k in (dedup_key(p.de), dedup_key(p.en))}
        kept = [p for p in pairs if given_keys.isdisjoint((dedup_key(p.de), dedup_key(p.en)))]
        given_leaks, pairs = len(pairs) - len(kept), kept
    test_size = 0 if test_given is not None else test_size
    valid_size = 0 if valid_given is not None else valid_size
    by_doc: dict[str, list[Pair]] = defaultdict(list)
    for p in pairs:
        by_doc[p.doc].append(p)
    docs = sorted(by_doc)
    random.Random(seed).shuffle(docs)

    # Candidate held-out documents, with a margin for what leak removal takes away.
    n_held, count = 0, 0
    while n_held < len(docs) and count < 2 * (valid_size + test_size):
        count += len(by_doc[docs[n_held]])
        n_held += 1
    held_docs, pool_docs = docs[:n_held], docs[n_held:]
    pool = [p for d in pool_docs for p in by_doc[d]]

    def keys(p: Pair) -> tuple[str, str]:
        return dedup_key(p.de), dedup_key(p.en)

    pool_keys = {k for p in pool for k in keys(p)}
    test: list[Pair] = []
    valid: list[Pair] = []
    leftover_docs: list[str] = []
    leaks = 0
    for d in held_docs:
        target = test if len(test) < test_size else valid if len(valid) < valid_size else None
        if target is None:
            leftover_docs.append(d)
            continue
        size = test_size if target is test else valid_size
        for p in by_doc[d]:
            if pool_keys.isdisjoint(keys(p)):
                if len(target) < size:  # the rest of a document that fills a set is dropped, not moved
                    target.append(p)
            else:
                leaks += 1
    if len(test) < test_size or len(valid) < valid_size:
        sizes = sorted((len(v) for v in by_doc.values()), reverse=True)
        raise CorpusError(
            f"cannot hold out split.test_size={test_size} test and split.valid_size={valid_size} valid pairs: "
            f"only {len(test)} and {len(valid)} were found. Documents are never cut: each goes whole to test, valid "
            f"or the pool (so text shared within a document cannot leak), and held-out pairs that near-duplicate a "
            f"pool pair are dropped ({leaks} here). This corpus has {len(pairs)} pairs in {len(by_doc)} documents "
            f"(the largest holds {sizes[0] if sizes else 0} pairs). Lower split.test_size or split.valid_size, or "
            f"use smaller documents (a corpus without document ids: corpus.files.doc_block, 0 makes each line "
            f"its own document), or bring your own held-out files (corpus.files.test / corpus.files.valid)")
    # Unused held-out documents return to the pool, minus anything that would leak into test or valid.
    held_keys = {k for p in test + valid for k in keys(p)}
    pool += [p for d in leftover_docs for p in by_doc[d] if held_keys.isdisjoint(keys(p))]
    test = list(test_given) if test_given is not None else test
    valid = list(valid_given) if valid_given is not None else valid
    leaks += given_leaks

    random.Random(seed).shuffle(pool)
    if pool_size is not None:
        if pool_size > len(pool):
            raise CorpusError(f"pool_size={pool_size} exceeds the {len(pool)} pairs left for the training pool")
        pool = pool[:pool_size]
    return Split(pool=pool, valid=valid, test=test, dropped_as_leak=leaks)
