"""E4's intervals (analysis/diversity.py): half-samples without replacement, checked where the truth is known (a
simulation) and on real English of the embedded corpus, and the stage's columns with a clear difference."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from regurgitative.analysis import diversity
from regurgitative.data.corpus import read_tsv

pytestmark = pytest.mark.unit  # the test tier (tests/conftest.py)

CORPUS = Path(__file__).parents[1] / "data/corpus/libreoffice-help.de-en.tsv.xz"
THRESHOLD = 0.72  # profiles/default.yaml's diversity.mtld_threshold


def synthetic_sentences(rng: np.random.Generator, p: np.ndarray, n: int) -> list[list[int]]:
    """n i.i.d. sentences of 4-10 words, each word drawn i.i.d. from p."""
    lengths = rng.integers(4, 11, n)
    words = rng.choice(len(p), lengths.sum(), p=p).tolist()
    ends = np.cumsum(lengths)
    return [words[end - k:end] for end, k in zip(ends, lengths)]


def test_half_samples_draw_half_the_sentences_without_replacement_in_text_order():
    halves = diversity.half_samples(11, 50, np.random.default_rng(0))
    assert halves.shape == (50, 5)
    assert all(len(set(row)) == 5 and list(row) == sorted(row) and row.max() < 11 for row in halves)
    assert len({tuple(row) for row in halves}) > 40  # different draws, not one repeated


def test_the_mtld_interval_covers_the_population_mtld_and_is_centred_on_the_estimate():
    """The truth is known: sentences of i.i.d. words from a fixed Zipf distribution over 500 words. In 200
    repetitions, the 95 % interval from 50 half-samples of n = 40 sentences covers the population MTLD (that of a
    100,000-token text) in 90-99 % of them, and the half-samples' median sits on the estimate. A bootstrap with
    replacement fails the second check: its median lies 0.6 standard deviations below (the docstring's numbers)."""
    p = 1 / np.arange(1, 501)
    p /= p.sum()
    truth = diversity.mtld(synthetic_sentences(np.random.default_rng(99), p, 14_000), THRESHOLD)
    rng = np.random.default_rng(0)
    covered, estimates, offsets = [], [], []
    for _ in range(200):
        sents = synthetic_sentences(rng, p, 40)
        half = np.array([diversity.mtld([sents[i] for i in idx], THRESHOLD)
                         for idx in diversity.half_samples(40, 50, rng)])
        low, high = diversity.interval(half)
        covered.append(low <= truth <= high)
        estimates.append(diversity.mtld(sents, THRESHOLD))
        offsets.append(np.median(half) - estimates[-1])
    coverage = np.mean(covered)
    assert 0.90 <= coverage <= 0.99, f"coverage {coverage:.3f} of the population MTLD {truth:.1f}"
    assert abs(np.mean(offsets)) < 0.2 * np.std(estimates), (np.mean(offsets), np.std(estimates))


@pytest.fixture(scope="module")
def real_english() -> list[list[str]]:
    """2,000 distinct English sentences of the embedded corpus (no untranslated ones), in a seeded random order
    as the prepared pool has them."""
    english = list(dict.fromkeys(p.en for p in read_tsv(CORPUS) if p.en != p.de))
    order = np.random.default_rng(1).permutation(len(english))[:2000]
    return [diversity.tokenize(english[i]) for i in order]


@pytest.mark.parametrize("n, resamples", [(200, 200), (2000, 60)])
def test_on_real_english_the_mtld_interval_contains_the_estimate_and_has_the_right_width(real_english, n, resamples):
    sents = real_english[:n]
    estimate = diversity.mtld(sents, THRESHOLD)
    halves = diversity.half_samples(n, resamples, np.random.default_rng(1))
    half = diversity.resampled({"real": sents}, halves, THRESHOLD)["real"]["mtld"]
    low, high = diversity.interval(half)
    assert low < estimate < high, (estimate, low, high)
    if n * 5 <= len(real_english):  # as wide as MTLD's spread across disjoint samples of n sentences
        spread = np.std([diversity.mtld(real_english[i:i + n], THRESHOLD) for i in range(0, len(real_english), n)])
        assert 0.5 < (high - low) / 3.92 / spread < 2, (low, high, spread)


def test_a_less_diverse_generator_is_lower_on_every_interval_and_keeps_the_readers_columns():
    """Paired comparisons on the same half-samples: a generator that uses a tenth of the vocabulary is lower in
    MTLD and in vocabulary and TTR at n/2 sentences; real's own measures at n/2 lie within the full sample's."""
    rng = np.random.default_rng(3)
    p_real, p_poor = 1 / np.arange(1, 2001), 1 / np.arange(1, 201)
    by_condition = {"real": synthetic_sentences(rng, p_real / p_real.sum(), 60),
                    "poor": synthetic_sentences(rng, p_poor / p_poor.sum(), 60)}
    out = diversity.tests(by_condition, {"resamples": 40, "seed": 1, "mtld_threshold": THRESHOLD}, alpha=0.05)
    poor, real = out["poor"], out["real"]
    for column in ("mtld_ci_low", "mtld_ci_high", "mtld_diff_ci_low", "mtld_diff_ci_high", "vocabulary_diff",
                   "mtld_p_holm", "mtld_outcome", "vocabulary_p_holm", "vocabulary_outcome"):
        assert column in poor  # results/diversity.csv's columns, read by report/
    assert poor["mtld_outcome"] == "lower" and poor["vocabulary_outcome"] == "lower"
    assert poor["mtld_diff_ci_high"] < 0 and poor["vocabulary_half_diff_ci_high"] < 0 < real["vocabulary_half"]
    assert poor["ttr_half_diff_ci_high"] < 0 and poor["half_sentences"] == real["half_sentences"] == 30
    full_vocabulary = len({t for s in by_condition["real"] for t in s})
    assert real["vocabulary_half_ci_high"] < full_vocabulary  # a count at n/2 sentences, below the full one
