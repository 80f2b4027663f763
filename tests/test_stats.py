"""The statistics claims are decided with (stats.py): BLEU from resampled statistics equals sacreBLEU, the
pooled-seed bootstrap finds a real difference and not a made-up one, Holm's correction, the outcomes."""
from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
from sacrebleu.metrics import BLEU

from regurgitative.analysis import stats

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


def test_pooled_bootstrap_finds_a_real_difference_and_not_an_invented_one():
    refs = sentences(400, 1)
    sampler = stats.Resampler(sentences=len(refs), resamples=2000, seed=1)
    good = sampler.group([stats.sentence_stats(noisy(refs, 0.8, s), refs) for s in (1, 2, 3)])
    bad = sampler.group([stats.sentence_stats(noisy(refs, 0.6, s), refs) for s in (4, 5, 6)])
    same = sampler.group([stats.sentence_stats(noisy(refs, 0.8, s), refs) for s in (7, 8, 9)])
    real = stats.compare(good, bad)
    assert real["difference"] > 10 and real["ci_low"] > 0 and real["p_value"] < 0.001
    null = stats.compare(good, same)
    assert null["ci_low"] < 0 < null["ci_high"] and null["p_value"] > 0.05
    assert good.interval()[0] < good.bleu < good.interval()[1]


def test_seed_variance_widens_the_interval():
    """Three seeds that disagree make the interval wider than three seeds that agree (same test sentences)."""
    refs = sentences(300, 2)
    sampler = stats.Resampler(sentences=len(refs), resamples=2000, seed=2)
    agree = sampler.group([stats.sentence_stats(noisy(refs, 0.7, s), refs) for s in (1, 2, 3)])
    spread = sampler.group([stats.sentence_stats(noisy(refs, k, s), refs) for s, k in ((1, 0.5), (2, 0.7), (3, 0.9))])
    width = lambda g: g.interval()[1] - g.interval()[0]  # noqa: E731
    assert width(spread) > 2 * width(agree)


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
