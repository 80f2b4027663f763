"""Stage `diversity` (E4): the lexical diversity of the English each condition trains on, at every training
size it is trained at (a condition's training set of size n is the first n lines of its pool): real, each
generator, and the mitigation conditions (mixtures of generators among them).

One tokenization for all: sacreBLEU's 13a tokenizer (the one BLEU is computed with), lower-cased, tokens
without a letter or digit (punctuation) dropped. Measures:
- length-robust, on all tokens: MATTR (moving-average type-token ratio, window diversity.mattr_window) and
  MTLD (bidirectional, threshold diversity.mtld_threshold), both from `lexicalrichness`;
- count-based, on an equal-size sample (the first N tokens, N the smallest token count of any condition at
  that size, so that longer outputs do not look more diverse): TTR (which is distinct-1: distinct words / all
  words), distinct-2 (distinct bigrams / all bigrams, within sentences), vocabulary size, hapax share (words
  seen once / vocabulary).

Writes results/diversity.csv, the only input of its figure and table.
"""
from __future__ import annotations

import re
from collections import Counter

import pandas as pd
from lexicalrichness import LexicalRichness
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from .config import DIVERSITY_TABLE as TABLE
from .config import condition_pool, grid_sizes, load_params, param
from .scoring import read_lines

_WORDLIKE = re.compile(r"\w")
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
    counts = Counter(tokens)
    return {"sample_tokens": len(tokens), "ttr": len(counts) / len(tokens), "vocabulary": len(counts),
            "hapax_share": sum(c == 1 for c in counts.values()) / len(counts),
            "distinct_2": len(set(bigrams)) / max(1, len(bigrams))}


def length_robust_measures(tokens: list[str], window: int, threshold: float) -> dict:
    lr = LexicalRichness(tokens, preprocessor=None, tokenizer=None)
    return {"tokens": len(tokens), "mattr": lr.mattr(window_size=min(window, len(tokens))),
            "mtld": lr.mtld(threshold=threshold)}


def measure(params: dict) -> pd.DataFrame:
    cfg = param(params, "diversity")
    rows = []
    sizes = grid_sizes(params)
    for size in sorted({n for ns in sizes.values() for n in ns}):
        by_condition = {c: [tokenize(s) for s in read_lines(condition_pool(c).with_suffix(".en"))[:size]]
                        for c, ns in sizes.items() if size in ns}
        budget = min(sum(map(len, sents)) for sents in by_condition.values())
        for condition, sents in by_condition.items():
            flat = [t for s in sents for t in s]
            rows.append({"condition": condition, "train_size": size, "sentences": len(sents),
                         **length_robust_measures(flat, int(cfg["mattr_window"]), float(cfg["mtld_threshold"])),
                         **count_measures(sents, budget)})
    return pd.DataFrame(rows)


def main() -> None:
    table = measure(load_params())
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(TABLE, index=False)
    print(table.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
