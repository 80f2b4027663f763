"""Stage `collapse` (E9): what the chain of recursion@ stages did, generation after generation, and whether it
collapsed.

Per generation of every regime and seed (results/recursion.csv), from the generation's directory:
- its test BLEU and chrF (recursion@'s metrics);
- its training English against the human English of the same German lines (the prepared pool's):
  - E3's error indicators (analysis/indicators.py, the same thresholds): the share with any indicator, with low
    reference chrF, with a loop (repetition), with a length outlier, with copied source;
  - E4's diversity (diversity.py's tokenization and measures): MTLD and MATTR on all tokens; TTR, distinct-2 and
    vocabulary on an equal token budget (the smallest training English of the chain), sentences drawn in a fixed
    random order so that `accumulate`'s real generation-0 lines are not always the ones counted;
  - the tail of the vocabulary: the words of the human English of the same lines, in frequency bands (seen once,
    2-4, 5-19, 20 or more times there), and the share of each band's words the training English still uses
    (`tail_1`, ..., 1.0 for real data by construction): rare words vanish first;
  - lengths: words per sentence relative to the human English (`length_ratio`), and the spread of sentence
    lengths (`length_sd`, words) beside the human one (`human_length_sd`);
  - repetition: the share of sentences with a repeated word 3-gram (`repeated_trigram`).

Statistics (results/recursion-intervals.csv, results/recursion-significance.csv), by analysis/verdicts.py (t over
seeds, the paired test-sentence variance added in comparisons, Holm's correction within each family):
- a group is one regime's generation k, its seeds pooled; its BLEU and chrF intervals, and whether it learned
  (verdicts.py's rule: params.yaml significance.learned and results/baselines.json's copy-source scores);
- family E9-collapse: generation 0 against every later generation of each regime (expected: generation 0
  better, i.e. collapse);
- family E9-real-data: at every generation k >= 1, each regime that keeps real data (accumulate, or a real_share)
  against each regime that does not (expected: the one with real data better).
The measures of the training English get a 95 % t-interval over seeds (none with one seed), as BLEU does.
"""
from __future__ import annotations

import json
import re
from collections import Counter

import numpy as np
import pandas as pd

from regurgitative.analysis import indicators, stats, verdicts
from regurgitative.analysis.lexical import count_measures, length_robust_measures, tokenize
from regurgitative.params import load_params, param
from regurgitative.paths import BASELINES, PREPARED_DIR, SRC, TGT
from regurgitative.recursion.chain import INTERVALS, SIGNIFICANCE, TABLE, link_dir, link_metrics, regime_config
from regurgitative.text import read_lines

BANDS = {"tail_1": (1, 1), "tail_2_4": (2, 4), "tail_5_19": (5, 19), "tail_20": (20, None)}
MEASURES = ["bleu", "chrf", "any_error", "low_quality", "repetition", "length_outlier", "copied_source", "mtld",
            "mattr", "ttr", "distinct_2", "vocabulary", *BANDS, "length_ratio", "length_sd", "repeated_trigram"]
_WORDS = re.compile(r"\w+")


def chain(params: dict) -> list[tuple[str, int, int]]:
    """(regime, seed, generation) of every generation the params run: generation 0 and recursion.links."""
    links = param(params, "recursion.links") or []
    generations = [0] + [int(item["generation"]) for item in links]
    for k, item in enumerate(links, start=1):
        if int(item["generation"]) != k or int(item["learns_from"]) != k - 1:
            raise ValueError(f"params.yaml: recursion.links[{k - 1}] is {dict(item)}; the links must run "
                             f"{{generation: 1, learns_from: 0}}, {{generation: 2, learns_from: 1}}, ... in order")
    regimes = list(param(params, "recursion.regimes") or {})
    seeds = [int(s) for s in param(params, "grid.seeds")]
    return [(r, s, g) for r in regimes for s in seeds for g in generations]


def repeated_trigram(words: list[str]) -> bool:
    grams = list(zip(words, words[1:], words[2:]))
    return len(grams) != len(set(grams))


def tail_survival(training: list[list[str]], human: list[list[str]]) -> dict[str, float]:
    """Per frequency band of the human English's words: the share the training English still uses."""
    counts = Counter(w for s in human for w in s)
    used = {w for s in training for w in s}
    out = {}
    for band, (lo, hi) in BANDS.items():
        words = [w for w, c in counts.items() if c >= lo and (hi is None or c <= hi)]
        out[band] = sum(w in used for w in words) / len(words) if words else float("nan")
    return out


def measure_link(regime: str, seed: int, generation: int, pool_en: list[str], cfg: dict) -> tuple[dict, list]:
    d = link_dir(regime, seed, generation)
    metrics = json.loads(link_metrics(regime, seed, generation).read_text())
    german, english = read_lines(d / f"train.{SRC}"), read_lines(d / f"train.{TGT}")
    human = [pool_en[int(i)] for i in read_lines(d / "train.line")]
    origin = read_lines(d / "train.origin")
    flags = [indicators.indicators(en, de, ref, [], cfg) for en, de, ref in zip(english, german, human)]
    rate = lambda k: float(np.mean([f[k] for f in flags]))
    sents, refs = [tokenize(s) for s in english], [tokenize(s) for s in human]
    lengths, human_lengths = np.array([len(s) for s in sents]), np.array([len(s) for s in refs])
    row = {"regime": regime, "seed": seed, "generation": generation, "train_pairs": len(english),
           "real_share": origin.count("real") / len(origin), "bleu": metrics["bleu"], "chrf": metrics["chrf"],
           "any_error": rate(indicators.ANY), **{k: rate(k) for k in ("low_quality", "repetition", "length_outlier",
                                                                   "copied_source")},
           **length_robust_measures([t for s in sents for t in s], int(cfg["mattr_window"]),
                                    float(cfg["mtld_threshold"])),
           **tail_survival(sents, refs),
           "length_ratio": float(lengths.sum() / max(1, human_lengths.sum())),
           "length_sd": float(lengths.std()), "human_length_sd": float(human_lengths.std()),
           "repeated_trigram": float(np.mean([repeated_trigram(_WORDS.findall(s.lower())) for s in english]))}
    return row, sents


def table(params: dict) -> pd.DataFrame:
    cfg = {**param(params, "errors"), **param(params, "diversity")}
    pool_en = read_lines(PREPARED_DIR / f"pool.{TGT}")
    rows, sentences = [], []
    for regime, seed, generation in chain(params):
        row, sents = measure_link(regime, seed, generation, pool_en, cfg)
        rows.append(row)
        sentences.append(sents)
    if not rows:
        return pd.DataFrame(columns=["regime", "seed", "generation", *MEASURES])
    # the same number of tokens for every generation, as many as the shortest has (one with none at all is left
    # out: its count measures are undefined, not zero for everyone)
    budget = min((n for s in sentences if (n := sum(map(len, s)))), default=0)
    rng_seed = int(param(params, "diversity.seed"))
    for row, sents in zip(rows, sentences):
        order = np.random.default_rng(rng_seed).permutation(len(sents))
        row.update(count_measures([sents[i] for i in order], budget))
    return pd.DataFrame(rows)


def over_seeds(values: pd.Series) -> tuple[float, float, float]:
    """Mean and 95 % t-interval over seeds (nan bounds with one seed)."""
    v = values.dropna().to_numpy(dtype=float)
    return (float(v.mean()) if len(v) else float("nan"), *stats.t_interval(v))


def statistics(params: dict, links: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    references = read_lines(PREPARED_DIR / f"test.{TGT}")
    copy_source = json.loads(BASELINES.read_text())["copy_source"]
    by_group = {(regime, int(generation)): rows
                for (regime, generation), rows in links.groupby(["regime", "generation"], sort=False)}
    groups = {(regime, generation): [read_lines(link_dir(regime, int(s), generation) / f"test.{TGT}")
                                     for s in rows.seed]
              for (regime, generation), rows in by_group.items()}
    regimes = {r: regime_config(params, r) for r in links.regime.unique()}
    keeps_real = {r: c["accumulate"] or c["real_share"] > 0 for r, c in regimes.items()}
    comparisons = []
    for (regime, generation) in groups:
        if generation > 0:
            comparisons.append({"family": "E9-collapse", "a": (regime, 0), "b": (regime, generation)})
    for (regime, generation) in groups:
        if generation > 0 and keeps_real[regime]:
            for other, other_keeps_real in keeps_real.items():
                if not other_keeps_real and (other, generation) in groups:
                    comparisons.append({"family": "E9-real-data", "a": (regime, generation), "b": (other, generation)})
    intervals, sig = verdicts.judge(references, groups, comparisons, copy_source, param(params, "significance"),
                                    key=("regime", "generation"), side="generation")
    # the training English's measures: t over seeds
    for m in MEASURES[2:]:
        measured = [over_seeds(by_group[(r, int(g))][m]) for r, g in zip(intervals.regime, intervals.generation)]
        intervals[m], intervals[f"{m}_low"], intervals[f"{m}_high"] = map(list, zip(*measured))
    return intervals, sig


def main() -> None:
    params = load_params()
    links = table(params)
    intervals, sig = statistics(params, links) if len(links) else (pd.DataFrame(), pd.DataFrame())
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    links.round(6).to_csv(TABLE, index=False)
    intervals.round(6).to_csv(INTERVALS, index=False)
    sig.round(6).to_csv(SIGNIFICANCE, index=False)
    if len(links):
        print(intervals[["regime", "generation", "seeds", "bleu", "ci_low", "ci_high", "mtld", "tail_1",
                         "any_error"]].round(3).to_string(index=False))
        print(sig.drop(columns=["a_learned", "b_learned"]).round(4).to_string(index=False))


if __name__ == "__main__":
    main()
