"""The statistics claims are decided with (stats.py) and their one wiring (verdicts.py): BLEU and chrF from
resampled statistics equal sacreBLEU, intervals count the seed variance as it is (t over seeds; test sentences
only for one run), Welch's comparison, the learned rule with both floors, Holm's correction, the outcomes."""
from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
from sacrebleu.metrics import BLEU, CHRF
from scipy import stats as scipy_stats

from regurgitative.analysis import stats, verdicts

pytestmark = pytest.mark.unit  # the test tier (tests/conftest.py)

WORDS = "the a cat dog sat on mat ran to house big small red green".split()


def sentences(n: int, seed: int, length=(1, 12)) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(*length))) for _ in range(n)]


def noisy(references: list[str], keep: float, seed: int) -> list[str]:
    """Each word of the reference kept with probability `keep`, else replaced: a system of a chosen quality."""
    rng = random.Random(seed)
    return [" ".join(w if rng.random() < keep else rng.choice(WORDS) for w in r.split()) for r in references]


@pytest.mark.parametrize("seed", range(6))
def test_bleu_from_statistics_equals_sacrebleu(seed):
    refs = sentences(60, seed)
    hyps = noisy(refs, keep=[0.0, 0.05, 0.3, 0.7, 1.0, 0.5][seed], seed=seed + 100)
    if seed == 5:
        hyps = ["" for _ in refs[:30]] + hyps[30:]          # empty outputs, short corpus statistics
    s = stats.sentence_stats(hyps, refs)
    # every subset a resample could draw, with repetitions
    rng = np.random.default_rng(seed)
    for _ in range(20):
        idx = rng.integers(0, len(refs), size=len(refs))
        expected = BLEU().corpus_score([hyps[i] for i in idx], [[refs[i] for i in idx]]).score
        assert stats.bleu_from_totals(s[idx].sum(axis=0)) == pytest.approx(expected, abs=1e-9)


def test_bleu_with_no_match_is_zero_like_sacrebleu():
    refs, hyps = ["a b c d e"], ["x y z w v"]
    assert stats.bleu_from_totals(stats.sentence_stats(hyps, refs).sum(axis=0)) == 0.0
    assert BLEU().corpus_score(hyps, [refs]).score == 0.0


@pytest.mark.parametrize("seed", range(4))
def test_chrf_from_statistics_equals_sacrebleu(seed):
    refs = sentences(40, seed)
    hyps = noisy(refs, keep=[0.0, 0.3, 0.8, 1.0][seed], seed=seed + 200)
    if seed == 0:
        hyps = ["" for _ in refs[:20]] + hyps[20:]
    s = stats.chrf_sentence_stats(hyps, refs)
    rng = np.random.default_rng(seed)
    for _ in range(10):
        idx = rng.integers(0, len(refs), size=len(refs))
        expected = CHRF().corpus_score([hyps[i] for i in idx], [[refs[i] for i in idx]]).score
        assert stats.chrf_from_totals(s[idx].sum(axis=0)) == pytest.approx(expected, abs=1e-9)


def test_statistics_with_the_references_processed_once_are_the_same():
    refs = sentences(30, 5)
    hyps = noisy(refs, 0.5, 5)
    bleu, chrf = stats.Statistics(refs)(hyps)
    assert np.array_equal(bleu, stats.sentence_stats(hyps, refs))
    assert np.array_equal(chrf, stats.chrf_sentence_stats(hyps, refs))
    with pytest.raises(ValueError, match="29 hypotheses for 30 references"):
        stats.Statistics(refs)(hyps[:29])


def group(refs, sampler, keeps, seeds):
    """A group of students of the given qualities (one per seed) on the test set `refs`."""
    bleu, chrf = zip(*(stats.Statistics(refs)(noisy(refs, k, s)) for k, s in zip(keeps, seeds)))
    return sampler.group(list(bleu), list(chrf))


def synthetic(bleu, chrf=(40.0, 41.0, 42.0), sentence_sd=0.0, resamples=2000, seed=0) -> stats.Group:
    """A group with the given per-seed scores; under resampling each seed moves by one shared sentence effect."""
    bleu, chrf = np.asarray(bleu, dtype=float), np.asarray(chrf, dtype=float)
    shift = np.random.default_rng(seed).normal(0, sentence_sd, size=(resamples, 1))
    return stats.Group(bleu_per_seed=bleu, chrf_per_seed=chrf[:len(bleu)], bleu_resampled=bleu + shift,
                       chrf_resampled=(chrf[:1] + shift) if len(bleu) == 1 else None)


def test_a_real_difference_is_found_and_a_made_up_one_is_not():
    refs = sentences(150, 1)
    sampler = stats.Resampler(sentences=len(refs), resamples=500, seed=1)
    good = group(refs, sampler, (0.8, 0.8, 0.8), (1, 2, 3))
    bad = group(refs, sampler, (0.6, 0.6, 0.6), (4, 5, 6))
    same = group(refs, sampler, (0.8, 0.8, 0.8), (7, 8, 9))
    real = stats.compare(good, bad)
    assert real["difference"] > 10 and real["ci_low"] > 0 and real["p_value"] < 0.01   # t with few df
    assert real["interval"] == stats.SEEDS_T
    null = stats.compare(good, same)
    assert null["ci_low"] < 0 < null["ci_high"] and null["p_value"] > 0.05
    for metric, mean in (("bleu", good.bleu), ("chrf", good.chrf)):
        low, high = good.interval(metric)
        assert low < mean < high
    assert good.kind == stats.SEEDS_T


def test_seed_variance_widens_the_interval():
    """Three seeds that disagree make the interval wider than three seeds that agree (same test sentences)."""
    refs = sentences(150, 2)
    sampler = stats.Resampler(sentences=len(refs), resamples=200, seed=2)
    agree = group(refs, sampler, (0.7, 0.7, 0.7), (1, 2, 3))
    spread = group(refs, sampler, (0.5, 0.7, 0.9), (1, 2, 3))
    width = lambda g: g.interval()[1] - g.interval()[0]  # noqa: E731
    assert width(spread) > 2 * width(agree)


def old_two_level_interval(g: stats.Group, seed: int = 0) -> tuple[float, float]:
    """The interval this replaced: test sentences resampled and, in each resample, the seeds drawn with
    replacement from the three there are."""
    draw = np.random.default_rng(seed).integers(0, g.seeds, size=g.bleu_resampled.shape)
    return stats.percentile_interval(np.take_along_axis(g.bleu_resampled, draw, axis=1).mean(axis=1))


def test_the_seed_interval_is_the_textbook_t_interval_and_wider_than_a_bootstrap_of_three_seeds():
    g = synthetic([19.2, 20.0, 20.8], sentence_sd=0.3)                # seed sd 0.8
    low, high = g.interval("bleu")
    half = scipy_stats.t.ppf(0.975, 2) * 0.8 / np.sqrt(3)             # 4.303 x 0.8 / sqrt(3) = 1.99
    assert (low, high) == pytest.approx((20.0 - half, 20.0 + half))
    textbook = scipy_stats.t.interval(0.95, 2, loc=20.0, scale=scipy_stats.sem([19.2, 20.0, 20.8]))
    assert (low, high) == pytest.approx(textbook)
    old_low, old_high = old_two_level_interval(g)
    assert high - low > 1.4 * (old_high - old_low)


def test_a_one_run_group_gets_an_interval_over_test_sentences_and_says_so():
    refs = sentences(120, 3)
    sampler = stats.Resampler(sentences=len(refs), resamples=300, seed=3)
    one = group(refs, sampler, (0.7,), (1,))
    three = group(refs, sampler, (0.7, 0.7, 0.7), (1, 2, 3))
    assert one.kind == stats.SENTENCES and three.kind == stats.SEEDS_T
    assert one.interval("bleu") == pytest.approx(stats.percentile_interval(one.bleu_resampled[:, 0]))
    assert one.interval("chrf")[0] < one.chrf < one.interval("chrf")[1]
    # a comparison with a one-run side falls back to the paired sentence bootstrap, and says so
    assert stats.compare(three, one)["interval"] == stats.SENTENCES
    groups = {("a", 1): [noisy(refs, 0.7, 1)], ("b", 1): [noisy(refs, 0.7, s) for s in (1, 2)]}
    intervals, _ = verdicts.judge(refs, groups, [], {"bleu": 1.0, "chrf": 20.0}, SIGNIFICANCE)
    assert dict(zip(intervals.condition, intervals.interval)) == {"a": "sentences", "b": "seeds-t"}


def test_welch_comparison_equals_scipy_when_the_sentence_part_is_zero():
    a_scores, b_scores = [20.1, 21.4, 19.5, 20.9], [18.0, 19.6, 17.1]
    a, b = synthetic(a_scores, chrf=[40] * 4), synthetic(b_scores)      # no sentence variance
    got = stats.compare(a, b)
    expected = scipy_stats.ttest_ind(a_scores, b_scores, equal_var=False)
    ci = expected.confidence_interval(0.95)
    assert got["interval"] == stats.SEEDS_T
    assert got["difference"] == pytest.approx(np.mean(a_scores) - np.mean(b_scores))
    assert got["p_value"] == pytest.approx(expected.pvalue)
    assert (got["ci_low"], got["ci_high"]) == pytest.approx((ci.low, ci.high))


def test_the_sentence_part_adds_to_the_seed_part():
    a0, b0 = synthetic([20.1, 21.4, 19.5]), synthetic([18.0, 19.6, 17.1])
    a1 = synthetic([20.1, 21.4, 19.5], sentence_sd=1.0, seed=1)
    b1 = synthetic([18.0, 19.6, 17.1], sentence_sd=1.0, seed=2)
    narrow, wide = stats.compare(a0, b0), stats.compare(a1, b1)
    seed_var = np.var([20.1, 21.4, 19.5], ddof=1) / 3 + np.var([18.0, 19.6, 17.1], ddof=1) / 3
    sentence_var = np.var(a1.bleu_resampled.mean(axis=1) - b1.bleu_resampled.mean(axis=1), ddof=1)
    assert sentence_var == pytest.approx(2.0, rel=0.15)   # two independent shifts of sd 1
    ratio = (wide["ci_high"] - wide["ci_low"]) / (narrow["ci_high"] - narrow["ci_low"])
    assert ratio == pytest.approx(np.sqrt((seed_var + sentence_var) / seed_var))


# ------------------------------------------------------------------------------------------------ learned
RULE = {"bleu_absolute": 5.0, "bleu_copy_factor": 1.5, "chrf_absolute": 25.0, "chrf_copy_margin": 3.0}
SIGNIFICANCE = {"resamples": 200, "seed": 1, "alpha": 0.05, "equivalence_margin": 1.0, "learned": RULE}


def test_the_floors_are_the_larger_of_an_absolute_level_and_copying():
    rule = verdicts.Rule.from_params(SIGNIFICANCE)
    assert rule.floors({"bleu": 3.4, "chrf": 24.3}) == pytest.approx((5.1, 27.3))    # the default test set
    assert rule.floors({"bleu": 0.5, "chrf": 10.0}) == pytest.approx((5.0, 25.0))    # copying scores near nothing
    with pytest.raises(KeyError, match="significance.learned lacks chrf_absolute"):
        verdicts.Rule.from_params({"learned": {k: v for k, v in RULE.items() if k != "chrf_absolute"}})


def test_a_student_above_a_copy_that_scores_nothing_did_not_learn_below_five_bleu():
    """The user's corpus: copying scores 0.5 BLEU; the old rule (1.5 x copy = 0.75) counted a 2.0-BLEU group
    as learned, the absolute level does not."""
    g = synthetic([1.9, 2.0, 2.1], chrf=[40.0, 41.0, 42.0])
    bleu_floor, chrf_floor = verdicts.Rule.from_params(SIGNIFICANCE).floors({"bleu": 0.5, "chrf": 10.0})
    assert bleu_floor == 5.0
    assert g.interval("bleu")[0] > 1.5 * 0.5                  # what the old rule asked, and got
    assert not verdicts.learned(g, bleu_floor, chrf_floor)


def test_a_group_above_the_bleu_floor_but_not_the_chrf_floor_did_not_learn():
    bleu_floor, chrf_floor = verdicts.Rule.from_params(SIGNIFICANCE).floors({"bleu": 3.4, "chrf": 24.3})
    below = synthetic([8.0, 8.5, 9.0], chrf=[25.5, 26.0, 26.5])   # above copying's 24.3, below 24.3 + 3
    above = synthetic([8.0, 8.5, 9.0], chrf=[30.0, 30.5, 31.0])
    assert below.interval("bleu")[0] > bleu_floor
    assert not verdicts.learned(below, bleu_floor, chrf_floor)
    assert verdicts.learned(above, bleu_floor, chrf_floor)


def test_the_wiring_scores_decides_and_names_the_columns():
    refs = sentences(120, 4)
    groups = {("good", 10): [noisy(refs, 0.9, s) for s in (1, 2, 3)],
              ("bad", 10): [noisy(refs, 0.5, s) for s in (4, 5, 6)],
              ("copy", 10): [[" ".join(w[::-1] for w in r.split()) for r in refs]] * 3,   # learns nothing
              ("empty", 10): [[""] * len(refs)] * 3}
    rows = [{"family": "F", "a": ("good", 10), "b": ("bad", 10), "note": "x"},
            {"family": "F", "a": ("copy", 10), "b": ("empty", 10), "note": "y"}]
    intervals, decided = verdicts.judge(refs, groups, rows, {"bleu": 1.0, "chrf": 20.0}, SIGNIFICANCE,
                                        key=("condition", "train_size"), side="size")
    assert list(intervals.columns) == ["condition", "train_size", *verdicts.INTERVAL_COLUMNS]
    learned = dict(zip(intervals.condition, intervals.learned))
    assert learned == {"good": True, "bad": True, "copy": False, "empty": False}
    assert list(decided.columns[:6]) == ["family", "a", "a_size", "b", "b_size", "note"]
    assert list(decided.outcome) == [stats.BETTER, stats.NOT_LEARNED]   # the copy wins, but decides nothing
    assert (decided.p_holm >= decided.p_value).all() and set(decided.interval) == {stats.SEEDS_T}
    # identical seeds: no seed variance (the comparison counts the test sentences, with a normal quantile)
    assert decided.ci_low.iloc[1] < decided.difference.iloc[1] < decided.ci_high.iloc[1]
    assert intervals.set_index("condition").loc["copy", "ci_low"] == pytest.approx(
        intervals.set_index("condition").loc["copy", "bleu"])
    with pytest.raises(KeyError, match="no group"):
        verdicts.judge(refs, groups, [{"family": "F", "a": ("good", 10), "b": ("none", 10)}], {"bleu": 1, "chrf": 1},
                       SIGNIFICANCE)


def test_holm_adjusts_step_down():
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert stats.holm([]) == []


def test_each_family_is_corrected_on_its_own_and_decided():
    """Holm within a family, never across: 0.02 survives alone in its family and not among three."""
    table = pd.DataFrame({"family": ["A", "B", "B", "B"], "difference": [2.0, 2.0, -2.0, 0.1],
                          "ci_low": [0.5, 0.5, -3.5, -0.2], "ci_high": [3.5, 3.5, -0.5, 0.4],
                          "p_value": [0.02, 0.02, 0.01, 0.6], "a_learned": True, "b_learned": True})
    decided = stats.decide(table, alpha=0.05, margin=0.5)
    assert list(decided.p_holm) == pytest.approx([0.02, 0.04, 0.03, 0.6])
    assert list(decided.outcome) == [stats.BETTER, stats.BETTER, stats.WORSE, stats.EQUIVALENT]
    assert "p_holm" not in table.columns  # the caller's table is left as it was
    assert stats.decide(table.iloc[:0], 0.05, 0.5).empty


@pytest.mark.parametrize("difference, ci, p, a_learned, b_learned, expected", [
    (3.0, (1.0, 5.0), 0.001, True, True, stats.BETTER),
    (-3.0, (-5.0, -1.0), 0.001, True, True, stats.WORSE),
    (0.2, (-0.5, 0.8), 0.6, True, True, stats.EQUIVALENT),
    (0.5, (-2.0, 3.0), 0.6, True, True, stats.UNDECIDED),
    (3.0, (1.0, 5.0), 0.04, True, True, stats.UNDECIDED),      # significant alone, not after correction (alpha 0.01)
    (3.0, (1.0, 5.0), 0.001, True, False, stats.BETTER),       # the winner learned: decided
    (-3.0, (-5.0, -1.0), 0.001, True, False, stats.NOT_LEARNED),   # the winner (b) did not: nothing decided
    (-3.0, (-5.0, -1.0), 0.001, False, True, stats.WORSE),
    (3.0, (1.0, 5.0), 0.001, False, False, stats.NOT_LEARNED),
    (0.2, (-0.5, 0.8), 0.6, True, False, stats.NOT_LEARNED),   # alike near the floor is not equivalent
    (0.5, (-2.0, 3.0), 0.6, False, True, stats.NOT_LEARNED),
])
def test_outcome(difference, ci, p, a_learned, b_learned, expected):
    assert stats.outcome(difference, ci, p, alpha=0.01 if p == 0.04 else 0.05, margin=1.0,
                         a_learned=a_learned, b_learned=b_learned) == expected
