"""The statistics every claim is decided with (library of the significance stage; no stage of its own).

- BLEU under resampling, with the seeds pooled: a condition at a size is a group of students (one per seed)
  that translated the same test set. A resample draws test sentences with replacement (the same draw for
  every group, so comparisons are paired over sentences) and, independently for each group, its seeds with
  replacement; the group's BLEU in that resample is the mean over the drawn seeds of corpus BLEU on the
  drawn sentences. This is a two-level (hierarchical) bootstrap: it carries both the test-set variance and
  the variance between training runs, where one paired test per seed would carry only the first.
- A comparison of two groups is the resampled distribution of their BLEU difference: a percentile 95 %
  interval and a two-sided p-value (twice the smaller share of resamples on either side of zero).
- Multiplicity: Holm's step-down correction within each claim's family of comparisons (statsmodels).
- What a comparison can say (`outcome`): one group significantly better; `equivalent` when the whole
  interval lies within +-margin BLEU; `undecided` otherwise (too little power to tell); and `not learned` when
  the group ahead is not clearly above copying the source (the lower bound of its interval under the floor),
  or, for `equivalent` and `undecided`, either group is not: a difference won by a student that did not learn
  to translate, or a likeness of two such students, decides nothing.

BLEU is sacreBLEU's (13a tokenization, exponential smoothing) computed from its per-sentence n-gram statistics,
so a resample's score equals `sacrebleu` on the resampled files (checked by tests/test_stats.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sacrebleu.metrics import BLEU
from statsmodels.stats.multitest import multipletests

ORDER = 4
BETTER, WORSE, EQUIVALENT, UNDECIDED, NOT_LEARNED = "better", "worse", "equivalent", "undecided", "not learned"


def sentence_stats(hypotheses: list[str], references: list[str]) -> np.ndarray:
    """Per sentence: hypothesis length, reference length, matching n-grams (n = 1..4), hypothesis n-grams."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    return np.asarray(BLEU()._extract_corpus_statistics(hypotheses, [references]), dtype=float)


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


@dataclass
class Resampler:
    """One set of sentence resamples (counts per sentence) shared by every group of a stage run."""
    sentences: int
    resamples: int
    seed: int

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        self.counts = self.rng.multinomial(self.sentences, np.full(self.sentences, 1 / self.sentences),
                                           size=self.resamples).astype(np.float32)

    def group(self, stats_by_seed: list[np.ndarray]) -> "Group":
        """A condition at a size: its students' statistics (one array per seed, same test sentences)."""
        stats = np.stack(stats_by_seed).astype(np.float32)          # seeds x sentences x 10
        if stats.shape[1] != self.sentences:
            raise ValueError(f"{stats.shape[1]} sentences, the resampler has {self.sentences}")
        per_seed = bleu_from_totals(stats.sum(axis=1).astype(float))                 # seeds
        resampled = bleu_from_totals(np.einsum("rn,snk->rsk", self.counts, stats).astype(float))  # R x seeds
        draw = self.rng.integers(0, len(stats_by_seed), size=(self.resamples, len(stats_by_seed)))
        pooled = np.take_along_axis(resampled, draw, axis=1).mean(axis=1)             # R
        return Group(per_seed=per_seed, resampled=pooled)


@dataclass
class Group:
    per_seed: np.ndarray   # BLEU of each seed's student on the whole test set
    resampled: np.ndarray  # the seed-mean BLEU under each resample

    @property
    def bleu(self) -> float:
        return float(self.per_seed.mean())

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        q = np.quantile(self.resampled, [(1 - level) / 2, (1 + level) / 2])
        return float(q[0]), float(q[1])


def compare(a: Group, b: Group, level: float = 0.95) -> dict:
    """a minus b: the observed difference of seed-mean BLEU, its interval and a two-sided p-value."""
    diff = a.resampled - b.resampled
    r = len(diff)
    tail = min(int((diff <= 0).sum()), int((diff >= 0).sum()))
    low, high = np.quantile(diff, [(1 - level) / 2, (1 + level) / 2])
    return {"difference": a.bleu - b.bleu, "ci_low": float(low), "ci_high": float(high),
            "p_value": min(1.0, 2 * (tail + 1) / (r + 1))}


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


def learned(group: Group, floor: float) -> bool:
    """Clearly above copying the source: the lower end of the group's 95 % interval above `floor`."""
    return group.interval()[0] > floor
