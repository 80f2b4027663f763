"""The statistics every claim is decided with (library of analysis/verdicts.py; no stage of its own).

A condition at a size is a group of students (one per seed) that translated the same test set; its score is
the mean over seeds of each student's corpus score on the whole test set.

- A group's 95 % interval counts the variance between training runs as it is: with n >= 2 seeds, a t-interval
  over the per-seed corpus scores (mean +- t_{n-1, 0.975} x sd / sqrt(n)), for BLEU and for chrF. A bootstrap
  of three seed values would understate it (it never draws a fourth value, and its percentiles of 3^3 means are
  narrower than t with 2 degrees of freedom). A group of one run (E10: one fine-tune per point) has no seed
  variance to count: its interval resamples the test sentences only (percentile bootstrap), and says so
  (`interval`: `seeds-t` or `sentences`).
- A comparison of two groups is the difference of their seed means. With >= 2 seeds on both sides it is
  Welch's t with the test sentences added: SE^2 = s_a^2/n_a + s_b^2/n_b (between seeds) + the variance of the
  difference of seed means under paired resampling of the test sentences, seeds held fixed; degrees of freedom
  by Welch-Satterthwaite on the seed part; interval difference +- t_df x SE, two-sided p from t. When either
  side has one run: the paired sentence bootstrap (percentile interval; p twice the smaller share of resamples
  on either side of zero), marked `sentences`.
- Multiplicity: Holm's step-down correction within each claim's family of comparisons (statsmodels).
- What a comparison can say (`outcome`): one group significantly better; `equivalent` when the whole interval
  lies within +-margin BLEU; `undecided` otherwise (too little power to tell); and `not learned` when the group
  ahead did not learn to translate, or, for `equivalent` and `undecided`, either group did not (the rule,
  fixed in params.yaml's significance.learned, is verdicts.py's): a difference won by a student that did not
  learn, or a likeness of two such students, decides nothing.

BLEU is sacreBLEU's (13a tokenization, exponential smoothing) and chrF sacreBLEU's (chrF2, character 6-grams),
both computed from sacreBLEU's per-sentence statistics, so a resample's score equals `sacrebleu` on the
resampled files (checked by tests/test_stats.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sacrebleu.metrics import BLEU, CHRF
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests

ORDER = 4
BETTER, WORSE, EQUIVALENT, UNDECIDED, NOT_LEARNED = "better", "worse", "equivalent", "undecided", "not learned"
SEEDS_T, SENTENCES = "seeds-t", "sentences"   # what an interval counts: seeds (t; + sentences in a comparison), or
                                               # the test sentences only (one run: no seed variance to count)


def sentence_stats(hypotheses: list[str], references: list[str]) -> np.ndarray:
    """Per sentence: hypothesis length, reference length, matching n-grams (n = 1..4), hypothesis n-grams."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    return np.asarray(BLEU()._extract_corpus_statistics(hypotheses, [references]), dtype=float)


def chrf_sentence_stats(hypotheses: list[str], references: list[str]) -> np.ndarray:
    """Per sentence: sacreBLEU's chrF statistics (per character order: hypothesis, reference and matching
    n-grams)."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    return np.asarray(CHRF()._extract_corpus_statistics(hypotheses, [references]), dtype=float)


class Statistics:
    """Per-sentence BLEU and chrF statistics of hypotheses against one set of references, the references
    processed once (the same numbers as sentence_stats and chrf_sentence_stats)."""

    def __init__(self, references: list[str]) -> None:
        self.sentences = len(references)
        self._bleu, self._chrf = BLEU(references=[references]), CHRF(references=[references])

    def __call__(self, hypotheses: list[str]) -> tuple[np.ndarray, np.ndarray]:
        if len(hypotheses) != self.sentences:
            raise ValueError(f"{len(hypotheses)} hypotheses for {self.sentences} references")
        return (np.asarray(self._bleu._extract_corpus_statistics(hypotheses, None), dtype=float),
                np.asarray(self._chrf._extract_corpus_statistics(hypotheses, None), dtype=float))


def bleu_from_totals(totals: np.ndarray) -> np.ndarray:
    """sacreBLEU's corpus BLEU (smooth_method 'exp', no effective order) from summed statistics, over the last
    axis: [sys_len, ref_len, correct_1..4, total_1..4]."""
    sys_len, ref_len = totals[..., 0], totals[..., 1]
    correct, total = totals[..., 2:2 + ORDER], totals[..., 2 + ORDER:2 + 2 * ORDER]
    with np.errstate(divide="ignore", invalid="ignore"):
        # exp smoothing: the k-th order with no match (counting from the lowest) gets 1 / (2^k * total).
        zero = correct == 0
        smooth = np.cumsum(zero, axis=-1)
        precision = np.where(zero, 100.0 / (2.0 ** smooth * total), 100.0 * correct / total)
        log_p = np.where(total > 0, np.log(precision), -9999999999.0)
        # sacreBLEU stops at the first order with no hypothesis n-gram and averages over all four orders anyway.
        stopped = np.cumsum(total == 0, axis=-1) > 0
        log_p = np.where(stopped, -9999999999.0, log_p)
        bp = np.where(sys_len < ref_len, np.exp(1 - ref_len / np.maximum(sys_len, 1e-300)), 1.0)
        bp = np.where(sys_len == 0, 0.0, bp)
        score = bp * np.exp(log_p.mean(axis=-1))
        score = np.where(correct.sum(axis=-1) == 0, 0.0, score)  # sacreBLEU: no match at all is 0
    return np.where(np.isfinite(score), score, 0.0)


def chrf_from_totals(totals: np.ndarray) -> np.ndarray:
    """sacreBLEU's corpus chrF from summed statistics, over the last axis (sacreBLEU's own formula, row by row)."""
    chrf, totals = CHRF(), np.asarray(totals, dtype=float)
    flat = totals.reshape(-1, totals.shape[-1])
    return np.array([chrf._compute_f_score(list(row)) for row in flat]).reshape(totals.shape[:-1])


def t_interval(values, level: float = 0.95) -> tuple[float, float]:
    """mean +- t_{n-1} x sd / sqrt(n) over the values (nan with fewer than two)."""
    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return float("nan"), float("nan")
    half = scipy_stats.t.ppf((1 + level) / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    return float(v.mean() - half), float(v.mean() + half)


def percentile_interval(values, level: float = 0.95) -> tuple[float, float]:
    q = np.quantile(np.asarray(values, dtype=float), [(1 - level) / 2, (1 + level) / 2])
    return float(q[0]), float(q[1])


@dataclass
class Resampler:
    """One set of sentence resamples (counts per sentence) shared by every group of a stage run: comparisons are
    paired over test sentences."""
    sentences: int
    resamples: int
    seed: int

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        self.counts = rng.multinomial(self.sentences, np.full(self.sentences, 1 / self.sentences),
                                      size=self.resamples).astype(float)

    def group(self, bleu_by_seed: list[np.ndarray], chrf_by_seed: list[np.ndarray]) -> "Group":
        """A condition at a size: its students' statistics (one array per seed, same test sentences; sentence_stats
        and chrf_sentence_stats)."""
        if len(bleu_by_seed) != len(chrf_by_seed) or not bleu_by_seed:
            raise ValueError(f"{len(bleu_by_seed)} BLEU and {len(chrf_by_seed)} chrF statistics: one of each per seed")
        for s in (*bleu_by_seed, *chrf_by_seed):
            if s.shape[0] != self.sentences:
                raise ValueError(f"{s.shape[0]} sentences, the resampler has {self.sentences}")
        bleu = bleu_from_totals(np.stack([s.sum(axis=0) for s in bleu_by_seed]))
        chrf = chrf_from_totals(np.stack([s.sum(axis=0) for s in chrf_by_seed]))
        # R x seeds: each seed's corpus BLEU on each resample of the test sentences (seeds held fixed)
        bleu_resampled = np.stack([bleu_from_totals(self.counts @ s) for s in bleu_by_seed], axis=1)
        # chrF under resampling is needed only where the sentences are all an interval counts (one run)
        chrf_resampled = chrf_from_totals(self.counts @ chrf_by_seed[0])[:, None] if len(chrf_by_seed) == 1 else None
        return Group(bleu_per_seed=bleu, chrf_per_seed=chrf, bleu_resampled=bleu_resampled,
                     chrf_resampled=chrf_resampled)


@dataclass
class Group:
    bleu_per_seed: np.ndarray            # corpus BLEU of each seed's student on the whole test set
    chrf_per_seed: np.ndarray            # corpus chrF, likewise
    bleu_resampled: np.ndarray           # resamples x seeds: each seed's BLEU on each resample of the sentences
    chrf_resampled: np.ndarray | None = None  # likewise for chrF (one-run groups only)

    @property
    def seeds(self) -> int:
        return len(self.bleu_per_seed)

    @property
    def bleu(self) -> float:
        return float(np.mean(self.bleu_per_seed))

    @property
    def chrf(self) -> float:
        return float(np.mean(self.chrf_per_seed))

    @property
    def kind(self) -> str:
        """What the group's intervals count: the seeds (t), or with one run the test sentences only."""
        return SEEDS_T if self.seeds >= 2 else SENTENCES

    def interval(self, metric: str = "bleu", level: float = 0.95) -> tuple[float, float]:
        """The 95 % interval of the group's seed-mean BLEU or chrF (see `kind`)."""
        if self.kind == SEEDS_T:
            return t_interval(self.bleu_per_seed if metric == "bleu" else self.chrf_per_seed, level)
        resampled = self.bleu_resampled if metric == "bleu" else self.chrf_resampled
        if resampled is None:
            raise ValueError(f"no resampled {metric} for this group")
        return percentile_interval(resampled[:, 0], level)


def compare(a: Group, b: Group, level: float = 0.95) -> dict:
    """a minus b: the observed difference of seed-mean BLEU, its interval, a two-sided p-value and what the
    interval counts (`interval`): Welch's t over seeds with the paired test-sentence variance added (SEEDS_T),
    or, when either side has one run, the paired sentence bootstrap (SENTENCES)."""
    difference = a.bleu - b.bleu
    resampled = a.bleu_resampled.mean(axis=1) - b.bleu_resampled.mean(axis=1)   # seeds fixed, sentences paired
    if a.seeds < 2 or b.seeds < 2:
        r = len(resampled)
        tail = min(int((resampled <= 0).sum()), int((resampled >= 0).sum()))
        low, high = percentile_interval(resampled, level)
        return {"difference": difference, "ci_low": low, "ci_high": high,
                "p_value": min(1.0, 2 * (tail + 1) / (r + 1)), "interval": SENTENCES}
    va, vb = a.bleu_per_seed.var(ddof=1) / a.seeds, b.bleu_per_seed.var(ddof=1) / b.seeds
    seed_part, sentence_part = va + vb, float(resampled.var(ddof=1))
    se = float(np.sqrt(seed_part + sentence_part))
    # Welch-Satterthwaite on the seed part (conservative: the sentence part has hundreds of degrees of freedom);
    # seeds that all score alike leave the sentence part only, with a normal quantile
    df = seed_part ** 2 / (va ** 2 / (a.seeds - 1) + vb ** 2 / (b.seeds - 1)) if seed_part > 0 else np.inf
    if se == 0:
        return {"difference": difference, "ci_low": difference, "ci_high": difference,
                "p_value": 1.0 if difference == 0 else 0.0, "interval": SEEDS_T}
    dist = scipy_stats.norm if np.isinf(df) else scipy_stats.t(df)
    half = float(dist.ppf((1 + level) / 2)) * se
    return {"difference": difference, "ci_low": difference - half, "ci_high": difference + half,
            "p_value": float(min(1.0, 2 * dist.sf(abs(difference) / se))), "interval": SEEDS_T}


def holm(p_values: list[float]) -> list[float]:
    """Holm-adjusted p-values (family-wise error rate), in the given order."""
    if not p_values:
        return []
    return [float(p) for p in multipletests(p_values, method="holm")[1]]


def outcome(difference: float, ci: tuple[float, float], p_adjusted: float, alpha: float, margin: float,
            a_learned: bool, b_learned: bool) -> str:
    """What one comparison of a against b says: better / worse (a than b, significant after correction),
    equivalent (the interval within +-margin), undecided, or not learned.

    A significant difference decides when the group that comes out ahead learned: data that taught a student
    to translate beat data that did not, whatever the loser scored. Equivalence, and a difference too small to
    call, decide only between two groups that both learned: two students near copying the source are alike
    for want of learning, not because their data are."""
    if p_adjusted < alpha:
        return (BETTER if difference > 0 else WORSE) if (a_learned if difference > 0 else b_learned) \
            else NOT_LEARNED
    if not (a_learned and b_learned):
        return NOT_LEARNED
    if -margin < ci[0] and ci[1] < margin:
        return EQUIVALENT
    return UNDECIDED


def decide(table: pd.DataFrame, alpha: float, margin: float) -> pd.DataFrame:
    """A table of comparisons (family, difference, ci_low, ci_high, p_value, a_learned, b_learned) with Holm's
    correction within each family (p_holm) and each comparison's outcome added: how every stage decides."""
    table = table.copy()
    table["p_holm"] = np.nan
    for index in table.groupby("family").groups.values():
        table.loc[index, "p_holm"] = holm(list(table.loc[index, "p_value"]))
    table["outcome"] = [outcome(r.difference, (r.ci_low, r.ci_high), r.p_holm, alpha, margin, bool(r.a_learned),
                                bool(r.b_learned)) for r in table.itertuples()]
    return table
