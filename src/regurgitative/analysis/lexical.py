"""E4's lexical diversity of a text, shared by stage diversity and by E9's collapse: one tokenization (sacreBLEU's
13a, lower-cased, tokens without a letter or digit dropped), count-based measures on an equal-size sample, and the
length-robust MATTR and MTLD of `lexicalrichness` (analysis/diversity.py says why each)."""
from __future__ import annotations

import re
from collections import Counter

from lexicalrichness import LexicalRichness
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

_WORDLIKE = re.compile(r"\w")
NAN = float("nan")
_tokenize_13a = Tokenizer13a()


def tokenize(sentence: str) -> list[str]:
    return [t for t in _tokenize_13a(sentence.lower()).split() if _WORDLIKE.search(t)]


def count_measures(sentences: list[list[str]], budget: int) -> dict:
    """TTR (= distinct-1), distinct-2, vocabulary, hapax share over the first `budget` tokens (whole sentences, the last
    one cut)."""
    tokens, bigrams = [], []
    for s in sentences:
        s = s[:budget - len(tokens)]
        tokens += s
        bigrams += zip(s, s[1:])
        if len(tokens) >= budget:
            break
    if not tokens:  # no word at all (a collapsed E9 generation can write only punctuation): nothing to measure
        return {"sample_tokens": 0, "ttr": NAN, "vocabulary": 0, "hapax_share": NAN, "distinct_2": NAN}
    counts = Counter(tokens)
    return {"sample_tokens": len(tokens), "ttr": len(counts) / len(tokens), "vocabulary": len(counts),
            "hapax_share": sum(c == 1 for c in counts.values()) / len(counts),
            "distinct_2": len(set(bigrams)) / max(1, len(bigrams))}


def length_robust_measures(tokens: list[str], window: int, threshold: float) -> dict:
    if not tokens:  # as in count_measures: undefined, not an error
        return {"tokens": 0, "mattr": NAN, "mtld": NAN}
    lr = LexicalRichness(tokens, preprocessor=None, tokenizer=None)
    return {"tokens": len(tokens), "mattr": lr.mattr(window_size=min(window, len(tokens))),
            "mtld": lr.mtld(threshold=threshold)}
