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
largest E1 size n, from diversity.resamples HALF-SAMPLES: each draws m = n // 2 sentence indices WITHOUT
replacement (kept in text order), and every condition is measured on the same indices, so comparisons are paired.
- MTLD: the percentile 95 % interval of each condition's half-sample MTLD (`mtld_ci_low`, `mtld_ci_high`) and of
  each generator's paired difference from real (`mtld_diff_ci_*`), and a two-sided p-value (twice the share of
  differences on the smaller side of 0).
- vocabulary and TTR at n/2 sentences: on each half-sample every condition is cut to the same token budget (the
  smallest of them on that half-sample) and counted; the mean and percentile 95 % interval of each condition
  (`vocabulary_half`, `ttr_half` and their `_ci_low`, `_ci_high`) and of each generator's paired difference from
  real (`vocabulary_half_diff_ci_*`, `ttr_half_diff_ci_*`). `half_sentences` says m. These are intervals of the
  measure AT n/2 SENTENCES, not of the full-sample `vocabulary` and `ttr` beside them (see below).
- vocabulary's test: a paired permutation test at all n sentences, which resamples nothing: it swaps the two
  Englishes of a random half of the German sentences and recounts on the equal token budget (`vocabulary_diff`
  is the observed gap); diversity.resamples permutations.
p-values are Holm-corrected over the generators per measure; `<measure>_outcome` says lower / higher (than real,
at significance.alpha) or undecided.

Why half-samples and not the bootstrap (issue 28). A bootstrap draws n sentences WITH replacement: about a third of
each draw repeats a sentence, and a repeat lowers every type-based measure, MTLD included (a repeated sentence
inside an MTLD factor window brings no new type, so factors end sooner). The bootstrap distribution then sits below
the estimate (issue 28: [58, 73] around an MTLD of 75 on 200 real sentences). A half-sample repeats nothing. For a
mean-like statistic (a mean over sentences, or a ratio of two such means, as MTLD is to first order: tokens /
factors) the variance of an m-of-n draw without replacement about the full-sample value is s^2/m x (1 - m/n), which
at m = n/2 is s^2/n, the variance of the full-sample estimate itself; and the half-sample mean is unbiased for the
full-sample mean. So the half-samples' spread is the estimate's sampling spread, centred on it, and their
percentiles are an interval of the right width (the half-sampling of McCarthy 1969 and the delete-d jackknife
with d = n/2 of Shao and Wu 1989, used with percentiles). It assumes sentences independent of one another (the pool is
shuffled) and MTLD's factors many within n/2 sentences (MTLD is about 75 tokens here, a half-sample of 100 sentences
holds about 1,600): when MTLD nears the text length it is dominated by its partial factor and depends on length.
Vocabulary and TTR are not mean-like: a type count grows with the text, so a half-sample's is the count of n/2
sentences, centred below the full-sample value, and its spread is that of n/2 sentences. Rather than rescale them
with a vocabulary-growth model, they are reported as what they are, measured at n/2 sentences, and conditions are
compared on the same half-samples at the same token budget, like with like; the decision on vocabulary stays with
the permutation test at n.

Checked (tests/test_diversity.py, seeded; numbers in parentheses are longer runs outside the test):
- known truth: sentences of 4-10 i.i.d. words from a Zipf(1) distribution over 500 words, n = 40, 50 half-samples,
  the population MTLD that of a 100,000-token text: the 95 % interval covered it in 95.0 % of 200 repetitions
  (94.6 % +- 0.7 of 1,000), the half-samples' median 0.1 below the estimate (0.02 of its standard deviation).
  The bootstrap in its place: 90.0 % (89.5 % of 1,000), its median 4.0 below (0.6 sd), which the test refuses
  (it allows 0.2 sd). Nearer this stage's sizes (n = 200 over 2,000 words, 200 half-samples, 200 repetitions):
  (97.0 %; the bootstrap 91.0 %, its median 4.3 below, 0.7 sd).
- real English of the embedded corpus (distinct sentences, shuffled as the pool is): the MTLD interval contains
  the full-sample MTLD at 200 sentences (89.4 in [70.2, 103.6], 200 half-samples) and at 2,000 (75.4 in
  [70.2, 79.0], 60 half-samples; [69.9, 79.3] with 200), and at 200 it is as wide as MTLD's spread across the
  sample's 10 disjoint 200-sentence samples (width / 3.92 = 8.5, their standard deviation 8.4).
- (the default profile's real pool, as prepare makes it, before -> after: 200 sentences, MTLD 72.7, bootstrap
  [61.6, 80.7] with median 70.1 -> [61.2, 85.4] with median 71.6; 2,500 sentences, the study's size, 73.7,
  [69.7, 75.9] (72.9) -> [70.7, 77.3] (73.8). MTLD's standard deviation across 40 disjoint 200-sentence samples
  of the corpus is 5.7-6.5 (two seeds): the half-sample interval's width / 3.92 is 6.2 there, the bootstrap's
  4.9. MTLD is length-robust on this corpus: its mean over disjoint samples is 75.2-76.0 at 100 sentences and
  74.6-75.6 at 8,000.)
"""
from __future__ import annotations


import numpy as np
import pandas as pd
from lexicalrichness import LexicalRichness

from regurgitative.analysis import stats
from regurgitative.analysis.lexical import count_measures, length_robust_measures, tokenize
from regurgitative.conditions import describe
from regurgitative.params import grid_sizes, load_params, param
from regurgitative.paths import DIVERSITY_TABLE as TABLE, condition_pool
from regurgitative.text import read_lines

HALF_MEASURES = ("vocabulary", "ttr")  # count-based measures given intervals at n/2 sentences


def mtld(sents: list[list[str]], threshold: float) -> float:
    return LexicalRichness([t for s in sents for t in s], preprocessor=None, tokenizer=None).mtld(threshold=threshold)


def vocabulary_gap(a: list[list[str]], b: list[list[str]]) -> int:
    budget = min(sum(map(len, a)), sum(map(len, b)))
    return count_measures(a, budget)["vocabulary"] - count_measures(b, budget)["vocabulary"]


def two_sided(diff: np.ndarray) -> float:
    tail = min(int((diff <= 0).sum()), int((diff >= 0).sum()))
    return min(1.0, 2 * (tail + 1) / (len(diff) + 1))


def interval(values: np.ndarray) -> tuple[float, float]:
    """Percentile 95 % interval."""
    low, high = np.quantile(values, [0.025, 0.975])
    return float(low), float(high)


def half_samples(n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """`resamples` rows of n // 2 sentence indices, each row drawn without replacement and kept in text order."""
    return np.sort(rng.permuted(np.tile(np.arange(n), (resamples, 1)), axis=1)[:, :n // 2], axis=1)


def resampled(by_condition: dict[str, list[list[str]]], halves: np.ndarray, threshold: float
              ) -> dict[str, dict[str, np.ndarray]]:
    """Per condition, MTLD, vocabulary and TTR on each half-sample (rows of `halves`, the same for every condition);
    vocabulary and TTR on the token budget of the half-sample's shortest condition."""
    out: dict[str, dict[str, list]] = {c: {"mtld": [], **{m: [] for m in HALF_MEASURES}} for c in by_condition}
    for idx in halves:
        picked = {c: [sents[i] for i in idx] for c, sents in by_condition.items()}
        budget = min(sum(map(len, sents)) for sents in picked.values())
        for c, sents in picked.items():
            out[c]["mtld"].append(mtld(sents, threshold))
            counted = count_measures(sents, budget)
            for m in HALF_MEASURES:
                out[c][m].append(counted[m])
    return {c: {m: np.array(v, dtype=float) for m, v in measures.items()} for c, measures in out.items()}


def tests(by_condition: dict[str, list[list[str]]], cfg: dict, alpha: float) -> dict[str, dict]:
    """Per condition: half-sample intervals (module docstring); for a generator, its paired differences from real,
    and MTLD and vocabulary tested."""
    n, draws = len(by_condition["real"]), int(cfg["resamples"])
    rng = np.random.default_rng(int(cfg["seed"]))
    halves = half_samples(n, draws, rng)
    half = resampled(by_condition, halves, float(cfg["mtld_threshold"]))
    out: dict[str, dict] = {}
    for c, v in half.items():
        row = out[c] = {"half_sentences": halves.shape[1]}
        row["mtld_ci_low"], row["mtld_ci_high"] = interval(v["mtld"])
        for m in HALF_MEASURES:
            row[f"{m}_half"] = float(v[m].mean())
            row[f"{m}_half_ci_low"], row[f"{m}_half_ci_high"] = interval(v[m])
    real = by_condition["real"]
    generated = [c for c in by_condition if c != "real"]
    p: dict[str, dict[str, float]] = {"mtld": {}, "vocabulary": {}}
    for c in generated:
        diff = half[c]["mtld"] - half["real"]["mtld"]
        out[c]["mtld_diff_ci_low"], out[c]["mtld_diff_ci_high"] = interval(diff)
        p["mtld"][c] = two_sided(diff)
        for m in HALF_MEASURES:
            out[c][f"{m}_half_diff_ci_low"], out[c][f"{m}_half_diff_ci_high"] = interval(half[c][m] - half["real"][m])
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
