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

Intervals and tests (claim 4b), for E1's conditions (real and each generator, the same German sentences) at the
largest E1 size, diversity.bootstrap draws each:
- MTLD: a paired bootstrap over sentences (the same draw for every condition) gives a percentile 95 % interval
  of each condition's MTLD and of each generator's difference from real, and a two-sided p-value;
- vocabulary: a bootstrap would not do (drawing with replacement repeats sentences, which lowers a type count:
  the interval would miss the estimate), so a paired permutation test swaps the two Englishes of a random half
  of the German sentences and recounts; no interval.
p-values are Holm-corrected over the generators per measure; `<measure>_outcome` says lower / higher (than real,
at significance.alpha) or undecided.

Writes results/diversity.csv, the only input of its figure and table.
"""
from __future__ import annotations


import numpy as np
import pandas as pd
from lexicalrichness import LexicalRichness

from regurgitative.analysis import stats
from regurgitative.analysis.lexical import count_measures, length_robust_measures, tokenize
from regurgitative.analysis.scoring import read_lines
from regurgitative.conditions import describe
from regurgitative.config import DIVERSITY_TABLE as TABLE
from regurgitative.config import condition_pool, grid_sizes, load_params, param

def mtld(sents: list[list[str]], threshold: float) -> float:
    return LexicalRichness([t for s in sents for t in s], preprocessor=None, tokenizer=None).mtld(threshold=threshold)


def vocabulary_gap(a: list[list[str]], b: list[list[str]]) -> int:
    budget = min(sum(map(len, a)), sum(map(len, b)))
    return count_measures(a, budget)["vocabulary"] - count_measures(b, budget)["vocabulary"]


def two_sided(diff: np.ndarray) -> float:
    tail = min(int((diff <= 0).sum()), int((diff >= 0).sum()))
    return min(1.0, 2 * (tail + 1) / (len(diff) + 1))


def tests(by_condition: dict[str, list[list[str]]], cfg: dict, alpha: float) -> dict[str, dict]:
    """Per condition: MTLD's interval; for a generator, its MTLD and vocabulary against real's, tested."""
    n, draws = len(by_condition["real"]), int(cfg["bootstrap"])
    rng = np.random.default_rng(int(cfg["seed"]))
    threshold = float(cfg["mtld_threshold"])
    samples = rng.integers(0, n, size=(draws, n))
    boot = {c: np.array([mtld([s[i] for i in idx], threshold) for idx in samples]) for c, s in by_condition.items()}
    out: dict[str, dict] = {c: {"mtld_ci_low": np.quantile(v, 0.025), "mtld_ci_high": np.quantile(v, 0.975)}
                            for c, v in boot.items()}
    real = by_condition["real"]
    generated = [c for c in by_condition if c != "real"]
    p: dict[str, dict[str, float]] = {"mtld": {}, "vocabulary": {}}
    for c in generated:
        diff = boot[c] - boot["real"]
        out[c]["mtld_diff_ci_low"], out[c]["mtld_diff_ci_high"] = np.quantile(diff, [0.025, 0.975])
        p["mtld"][c] = two_sided(diff)
        observed = vocabulary_gap(by_condition[c], real)
        swapped = []
        for _ in range(draws):
            swap = rng.random(n) < 0.5
            a = [r if w else g for g, r, w in zip(by_condition[c], real, swap)]
            b = [g if w else r for g, r, w in zip(by_condition[c], real, swap)]
            swapped.append(vocabulary_gap(a, b))
        out[c]["vocabulary_diff"] = observed
        p["vocabulary"][c] = (1 + sum(abs(x) >= abs(observed) for x in swapped)) / (draws + 1)
    for m, direction in (("mtld", lambda c: out[c]["mtld_diff_ci_low"] + out[c]["mtld_diff_ci_high"]),
                         ("vocabulary", lambda c: out[c]["vocabulary_diff"])):
        for c, adjusted in zip(generated, stats.holm([p[m][c] for c in generated])):
            out[c][f"{m}_p_holm"] = adjusted
            out[c][f"{m}_outcome"] = "undecided" if adjusted >= alpha else "lower" if direction(c) < 0 else "higher"
    return out


def measure(params: dict) -> pd.DataFrame:
    cfg = param(params, "diversity")
    rows = []
    sizes = grid_sizes(params)
    largest_e1 = max(int(n) for n in param(params, "grid.train_sizes"))
    for size in sorted({n for ns in sizes.values() for n in ns}):
        by_condition = {c: [tokenize(s) for s in read_lines(condition_pool(c).with_suffix(".en"))[:size]]
                        for c, ns in sizes.items() if size in ns}
        budget = min(sum(map(len, sents)) for sents in by_condition.values())
        e1 = {c: s for c, s in by_condition.items() if describe(params, c)["experiment"] == "E1"}
        tested = (tests(e1, cfg, float(param(params, "significance.alpha")))
                  if size == largest_e1 and "real" in e1 and len(e1) > 1 else {})
        for condition, sents in by_condition.items():
            flat = [t for s in sents for t in s]
            rows.append({"condition": condition, "train_size": size, "sentences": len(sents),
                         **length_robust_measures(flat, int(cfg["mattr_window"]), float(cfg["mtld_threshold"])),
                         **count_measures(sents, budget), **tested.get(condition, {})})
    return pd.DataFrame(rows)


def main() -> None:
    table = measure(load_params())
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(TABLE, index=False)
    print(table.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
