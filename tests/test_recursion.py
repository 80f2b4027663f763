"""E9's chain on inputs small enough to check by hand: what each regime trains on, the checks that refuse a
broken chain, and the collapse measures. The chain through fairseq and DVC is tests/test_pipeline_e2e.py's."""
from __future__ import annotations

from pathlib import Path

import pytest

from regurgitative.recursion import chain
from regurgitative.recursion import collapse
from regurgitative.recursion import generation as recursion

pytestmark = pytest.mark.unit  # the test tier (tests/conftest.py)

REGIMES = {"replace": {"accumulate": False, "real_share": 0.0},
           "accumulate": {"accumulate": True, "real_share": 0.0},
           "keep-real": {"accumulate": False, "real_share": 0.1}}


def params(size: int = 10, pool_start: int = 20, links: int = 2) -> dict:
    return {"grid": {"seeds": [1]}, "recursion": {"start": "real", "size": size, "pool_start": pool_start,
                          "regimes": REGIMES,
                          "links": [{"generation": k, "learns_from": k - 1} for k in range(1, links + 1)]}}


def write(path: Path, lines) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{x}\n" for x in lines), encoding="utf-8")


@pytest.fixture
def pool(tmp_path, monkeypatch) -> tuple[list[str], list[str]]:
    """A prepared pool of 60 pairs in a scratch repository root, and generation 0 of every regime: trained on
    lines 0-9, its translations of slice 1 (lines 20-29) written as `gen0 <line>`."""
    monkeypatch.chdir(tmp_path)
    de = [f"de {i}" for i in range(60)]
    en = [f"en {i}" for i in range(60)]
    write(Path("data/prepared/pool.de"), de)
    write(Path("data/prepared/pool.en"), en)
    for regime in REGIMES:
        g0 = chain.link_dir(regime, 1, 0)
        write(g0 / "train.de", de[:10])
        write(g0 / "train.en", en[:10])
        write(g0 / "train.line", range(10))
        write(g0 / "train.origin", ["real"] * 10)
        write(g0 / "next.de", de[20:30])
        write(g0 / "next.en", [f"gen0 {i}" for i in range(20, 30)])
    return de, en


def test_replace_trains_on_the_previous_generations_english_of_a_fresh_slice(pool):
    de, _ = pool
    pairs = recursion.training_pairs(params(), "replace", 1, 1)
    assert pairs["de"] == de[20:30] and pairs["en"] == [f"gen0 {i}" for i in range(20, 30)]
    assert pairs["line"] == list(range(20, 30)) and set(pairs["origin"]) == {"g0"}


def test_accumulate_keeps_everything_before_it_real_data_included(pool):
    de, en = pool
    pairs = recursion.training_pairs(params(), "accumulate", 1, 1)
    assert pairs["de"] == de[:10] + de[20:30]
    assert pairs["en"] == en[:10] + [f"gen0 {i}" for i in range(20, 30)]
    assert pairs["origin"] == ["real"] * 10 + ["g0"] * 10


def test_keep_real_gives_a_fixed_share_of_the_slice_its_human_english(pool):
    _, en = pool
    pairs = recursion.training_pairs(params(), "keep-real", 1, 1)
    real = [i for i, o in enumerate(pairs["origin"]) if o == "real"]
    assert len(real) == 1  # 10 % of 10 lines
    assert all(pairs["en"][i] == en[pairs["line"][i]] for i in real)
    assert all(pairs["en"][i] == f"gen0 {pairs['line'][i]}" for i in range(10) if i not in real)
    assert recursion.training_pairs(params(), "keep-real", 1, 1) == pairs  # the seed fixes the draw


def test_a_generation_that_translated_other_german_is_refused(pool):
    with pytest.raises(ValueError, match="translated other German"):
        recursion.training_pairs(params(pool_start=30), "replace", 1, 1)


def test_the_chain_must_translate_german_generation_0_never_saw(pool):
    with pytest.raises(ValueError, match="pool_start is 5, inside the first recursion.size = 10"):
        recursion.slice_lines(params(pool_start=5), 1, 60)


def test_a_chain_longer_than_the_pool_names_the_keys_to_change(pool):
    assert recursion.slice_lines(params(), 4, 60) == (50, 10)
    with pytest.raises(ValueError, match="generation 5 of the chain trains on pool lines 60..70, but the prepared "
                                         "pool has 60"):
        recursion.slice_lines(params(), 5, 60)


def test_a_missing_generation_names_its_stage(pool):
    with pytest.raises(FileNotFoundError, match="g1/next.en: generation 1's translations are missing"):
        recursion.training_pairs(params(), "replace", 1, 2)


@pytest.mark.parametrize("cfg, message", [
    ({"accumulate": True, "share": 0.1}, "recursion.regimes.bad.share is not a regime setting"),
    ({"real_share": 1.0}, r"real_share is 1.0; it must lie in \[0, 1\)"),
    ("replace", "must be a mapping"),
])
def test_a_malformed_regime_is_refused_by_its_key(cfg, message):
    with pytest.raises(ValueError, match=message):
        chain.regime_config({"recursion": {"regimes": {"bad": cfg}}}, "bad")


def test_links_must_run_in_order():
    p = params()
    assert collapse.chain(p) == [(r, 1, g) for r in REGIMES for g in (0, 1, 2)]
    p["recursion"]["links"] = [{"generation": 1, "learns_from": 0}, {"generation": 3, "learns_from": 2}]
    with pytest.raises(ValueError, match=r"recursion.links\[1\] is .*generation': 3"):
        collapse.chain(p)


def test_rare_words_that_vanish_count_against_their_band():
    human = [["the", "cat", "sat"], ["the", "dog", "sat"], ["the", "cat", "ran"]]
    training = [["the", "cat", "sat"], ["the", "cat", "sat"], ["the", "cat", "sat"]]
    survival = collapse.tail_survival(training, human)
    # seen once in the human English: dog, ran (both gone); 2-4 times: the, cat, sat (all kept)
    assert survival["tail_1"] == 0.0 and survival["tail_2_4"] == 1.0
    assert survival["tail_5_19"] != survival["tail_5_19"]  # nan: no such words


def test_a_repeated_trigram_is_a_loop_and_a_varied_sentence_is_not():
    assert collapse.repeated_trigram(["you", "can", "also", "you", "can", "also", "see"])
    assert not collapse.repeated_trigram(["you", "can", "also", "see", "the", "menu"])


def test_the_collapse_statistics_use_the_learned_rule_and_t_over_seeds(tmp_path, monkeypatch):
    """collapse.statistics through analysis/verdicts.py: both floors, t over the seeds, E9's two families."""
    import json
    import random

    import pandas as pd

    monkeypatch.chdir(tmp_path)
    words = "the a cat dog sat on mat ran to house big small red green".split()
    rng = random.Random(0)
    refs = [" ".join(rng.choice(words) for _ in range(rng.randint(4, 12))) for _ in range(80)]
    write(Path("data/prepared/test.en"), refs)
    Path("results").mkdir()
    Path("results/baselines.json").write_text(json.dumps({"copy_source": {"bleu": 3.4, "chrf": 24.3}}))
    keep = {("replace", 0): 0.9, ("replace", 1): 0.2, ("accumulate", 0): 0.9, ("accumulate", 1): 0.7}
    rows = []
    for (regime, generation), k in keep.items():
        for seed in (1, 2, 3):
            noisy = [" ".join(w if rng.random() < k else rng.choice(words) for w in r.split()) for r in refs]
            write(chain.link_dir(regime, seed, generation) / "test.en", noisy)
            rows.append({"regime": regime, "seed": seed, "generation": generation,
                         **{m: float(seed) for m in collapse.MEASURES[2:]}})
    p = {"grid": {"seeds": [1, 2, 3]},
         "recursion": {"regimes": {r: REGIMES[r] for r in ("replace", "accumulate")}},
         "significance": {"resamples": 100, "seed": 1, "alpha": 0.05, "equivalence_margin": 1.0,
                          "learned": {"bleu_absolute": 5.0, "bleu_copy_factor": 1.5, "chrf_absolute": 25.0,
                                      "chrf_copy_margin": 3.0}}}
    intervals, sig = collapse.statistics(p, pd.DataFrame(rows))
    assert list(intervals.columns[:2]) == ["regime", "generation"]
    assert set(intervals.interval) == {"seeds-t"} and (intervals.seeds == 3).all()
    assert intervals.bleu_floor.iloc[0] == pytest.approx(5.1) and intervals.chrf_floor.iloc[0] == pytest.approx(27.3)
    assert (intervals.learned == (intervals.ci_low > 5.1) & (intervals.chrf_ci_low > 27.3)).all()
    # the training English's measures: seeds 1, 2, 3 give mean 2 and the t-interval 2 +- 4.303 / sqrt(3)
    half = 4.302652729911275 / 3 ** 0.5
    assert intervals.mtld.tolist() == [2.0] * 4
    assert intervals.mtld_low.tolist() == pytest.approx([2 - half] * 4)
    pairs = {(r.family, r.a, r.a_generation, r.b, r.b_generation) for r in sig.itertuples()}
    assert pairs == {("E9-collapse", "replace", 0, "replace", 1), ("E9-collapse", "accumulate", 0, "accumulate", 1),
                     ("E9-real-data", "accumulate", 1, "replace", 1)}
    assert set(sig.interval) == {"seeds-t"} and (sig.p_holm >= sig.p_value).all()
    collapsed = sig[(sig.family == "E9-collapse") & (sig.a == "replace")].iloc[0]
    assert collapsed.outcome == "better"
