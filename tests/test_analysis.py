"""E3 error indicators, E4 diversity measures and the mitigation conditions, on inputs small enough to check by
hand."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from regurgitative import detector, diversity, errors, findings, mitigate

CFG = {"low_chrf": 30, "copied_chrf": 60, "length_ratio": [0.5, 2.0], "bootstrap": 2000, "seed": 1}
DE = "Klicken Sie auf die Schaltfläche, um das Dokument zu speichern."


# ------------------------------------------------------------------------------------------------ E3
def test_a_good_translation_raises_no_indicator():
    row = errors.indicators("Click the button to save the document.", DE,
                            "Click the button to save the document.", [], CFG)
    assert row == {k: 0 for k in (*errors.INDICATORS, errors.ANY)}


@pytest.mark.parametrize("english, stripped, fired", [
    ("", [], {"empty", "length_outlier", "low_quality"}),
    (DE, [], {"untranslated", "copied_source", "low_quality"}),  # untranslated, so not also wrong_language
    ("Klicken Sie auf the button, um das Dokument zu speichern.", [], {"copied_source", "wrong_language"}),
    ("Click.", [], {"length_outlier", "low_quality"}),
    ("Click the button the button the button the button the button.", [], {"repetition"}),
    ("Click the button to save the document.", ["label"], {"prompt_leftovers"}),
])
def test_each_indicator_fires_on_its_case(english, stripped, fired):
    row = errors.indicators(english, DE, "Click the button to save the document.", stripped, CFG)
    assert {k for k in errors.INDICATORS if row[k]} == fired
    assert row[errors.ANY] == int(bool(fired - {"low_quality"}))


def test_indicators_undefined_for_a_human_reference_are_missing_not_zero():
    row = errors.indicators("Click the button to save the document.", DE, None, [], CFG)
    assert row["low_quality"] is None and row["prompt_leftovers"] is None
    assert row["wrong_language"] == 0 and row["length_outlier"] == 0


def test_bootstrap_interval_covers_the_rate_and_narrows_with_more_sentences():
    v = np.array([1.0] * 100 + [0.0] * 300)  # rate 0.25, standard error 0.0217: a 95 % interval about 0.085 wide
    low, high = errors.bootstrap_ci(v, 2000, seed=1)
    assert low < 0.25 < high and 0.07 < high - low < 0.10
    low4, high4 = errors.bootstrap_ci(np.tile(v, 4), 2000, seed=1)
    assert high4 - low4 < (high - low) * 0.7
    assert errors.bootstrap_ci(np.zeros(50), 100, seed=1) == (0.0, 0.0)


def test_condition_rows_report_rates_and_which_indicators_apply():
    per_sentence = [errors.indicators(e, DE, None, [], CFG) for e in ("Click the button to save it.", "")]
    rows = {r["indicator"]: r for r in errors.condition_rows("real", per_sentence, CFG)}
    assert rows["empty"]["rate"] == 0.5 and rows["empty"]["n"] == 2 and rows["empty"]["applies"]
    assert not rows["low_quality"]["applies"] and "rate" not in rows["low_quality"]


# ------------------------------------------------------------------------------------------------ E4
def test_one_tokenization_lowercases_and_drops_punctuation():
    assert diversity.tokenize("Click \"OK\", then Save!") == ["click", "ok", "then", "save"]


def test_count_measures_by_hand():
    sentences = [["a", "b", "a"], ["c", "a"]]
    m = diversity.count_measures(sentences, budget=5)
    # 5 tokens, types {a, b, c}; hapaxes b and c; bigrams (a,b) (b,a) (c,a) all distinct
    assert m == {"sample_tokens": 5, "ttr": 3 / 5, "vocabulary": 3, "hapax_share": 2 / 3, "distinct_2": 1.0}
    m = diversity.count_measures(sentences + [["a", "a"]], budget=4)  # the second sentence cut to ["c"]
    assert m["sample_tokens"] == 4 and m["ttr"] == 3 / 4 and m["distinct_2"] == 1.0


def test_length_robust_measures_by_hand():
    m = diversity.length_robust_measures(["a", "b", "a", "b"], window=3, threshold=0.72)
    assert m["mattr"] == pytest.approx(2 / 3)  # windows aba, bab
    # MTLD: TTR falls to 2/3 <= 0.72 at the third token (a factor), then "b" leaves a partial factor 0;
    # forward and backward alike: 4 tokens / 1 factor
    assert m["mtld"] == pytest.approx(4.0) and m["tokens"] == 4


def test_a_repetitive_text_is_less_diverse_on_every_measure():
    varied = [diversity.tokenize(s) for s in ("Open the file menu.", "Choose a new template.",
                                              "Press enter to confirm.", "Select all rows here.")] * 5
    flat = [["open", "the", "file"], ["open", "the", "file"], ["open", "the", "menu"], ["open", "the", "file"]] * 5
    a = {**diversity.count_measures(varied, 60), **diversity.length_robust_measures(sum(varied, []), 10, 0.72)}
    b = {**diversity.count_measures(flat, 60), **diversity.length_robust_measures(sum(flat, []), 10, 0.72)}
    for k in ("ttr", "vocabulary", "distinct_2", "mattr", "mtld"):
        assert a[k] > b[k], k


# ---------------------------------------------------------------------------------------- mitigations
@pytest.mark.parametrize("share", [0.0, 0.25, 0.5, 0.75, 1.0])
def test_every_prefix_has_exactly_its_share_of_generated_lines(share):
    generated = mitigate.share_assignment(40, share)
    for n in range(41):
        assert sum(generated[:n]) == int(n * share)


def test_a_mix_gives_each_generator_an_equal_share_in_every_block():
    who = mitigate.mix_assignment(30, 3, seed=1)
    for start in range(0, 30, 3):
        assert sorted(who[start:start + 3]) == [0, 1, 2]
    assert who != mitigate.mix_assignment(30, 3, seed=2)


def write_condition(root: Path, name: str, de: list[str], en: list[str]) -> None:
    d = root / "data/conditions" / name
    d.mkdir(parents=True)
    (d / "pool.de").write_text("".join(s + "\n" for s in de), encoding="utf-8")
    (d / "pool.en").write_text("".join(s + "\n" for s in en), encoding="utf-8")


def write_items(root: Path, generator: str, de: list[str], en: list[str], flags: dict[int, list[str]]) -> None:
    d = root / "data/generated" / generator
    d.mkdir(parents=True, exist_ok=True)
    with (d / "items.jsonl").open("w", encoding="utf-8") as f:
        for i, (g, e) in enumerate(zip(de, en)):
            f.write(json.dumps({"split": "pool", "index": i, "de": g, "text": e, "flags": flags.get(i, [])}) + "\n")


@pytest.fixture
def conditions(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    de = [f"Satz {i}" for i in range(6)]
    write_condition(tmp_path, "real", de, [f"real {i}" for i in range(6)])
    write_items(tmp_path, "g1", de, [f"g1 {i}" for i in range(6)], {})
    write_items(tmp_path, "g2", de, [f"g2 {i}" for i in range(6)], {2: ["empty"]})
    (tmp_path / "data/quality").mkdir(parents=True)
    pd.DataFrame({"index": range(6), "de": de, "agreement": [10, 50, 30, 50, 20, 5],
                  "confidence": [None] * 6}).to_csv(tmp_path / "data/quality/g1.csv", index=False)
    return de


def lines(name: str, lang: str) -> list[str]:
    return Path(f"data/conditions/{name}/pool.{lang}").read_text(encoding="utf-8").splitlines()


def test_a_quality_ordered_condition_puts_the_best_first_ties_in_pool_order(conditions):
    params = {"generate": {"flagged": "keep"},
              "mitigations": {"g1-by-agreement": {"method": "order", "generator": "g1", "score": "agreement"}}}
    mitigate.build("g1-by-agreement", params)
    assert lines("g1-by-agreement", "en") == ["g1 1", "g1 3", "g1 2", "g1 4", "g1 0", "g1 5"]
    assert lines("g1-by-agreement", "de") == ["Satz 1", "Satz 3", "Satz 2", "Satz 4", "Satz 0", "Satz 5"]
    sources = json.loads(Path("data/conditions/g1-by-agreement/sources.json").read_text())
    assert [s["index"] for s in sources] == [1, 3, 2, 4, 0, 5]


def test_ordering_by_a_score_nobody_recorded_is_refused(conditions):
    params = {"generate": {"flagged": "keep"},
              "mitigations": {"x": {"method": "order", "generator": "g1", "score": "confidence"}}}
    with pytest.raises(ValueError, match="no 'confidence' score"):
        mitigate.build("x", params)


def test_mix_and_share_keep_exactly_the_german_of_real(conditions):
    params = {"generate": {"flagged": "keep"},
              "mitigations": {"mix": {"method": "mix", "generators": ["g1", "g2"], "seed": 1},
                              "half": {"method": "share", "generator": "g1", "share": 0.5}}}
    mitigate.build("mix", params)
    mitigate.build("half", params)
    assert lines("mix", "de") == lines("half", "de") == conditions
    mix = lines("mix", "en")
    assert all(e.split()[1] == str(i) for i, e in enumerate(mix))  # each line the translation of its German
    assert sorted(e.split()[0] for e in mix) == ["g1"] * 3 + ["g2"] * 3
    assert lines("half", "en") == ["real 0", "g1 1", "real 2", "g1 3", "real 4", "g1 5"]


def test_a_mix_refuses_a_generator_whose_flagged_sentences_were_dropped(conditions):
    params = {"generate": {"flagged": "drop"}, "mitigations": {"mix": {"method": "mix", "generators": ["g1", "g2"]}}}
    with pytest.raises(ValueError, match="data/conditions/g2: its German is not the real pool's"):
        mitigate.build("mix", params)


# ------------------------------------------------------------------------------------------------- E7
def test_the_detector_separates_a_style_it_can_see_and_not_one_it_cannot():
    rng = np.random.default_rng(1)
    words = ["file", "menu", "table", "chart", "cell", "page", "style", "field", "sheet", "frame"]
    human = [" ".join(rng.choice(words, 6)) + "." for _ in range(60)]
    marked = [s.rstrip(".") + " indeed." for s in human]  # a tell-tale habit of the "generator"
    texts, labels, groups = detector.training_set(human, marked)
    assert detector.held_out_auc(texts, labels, groups) > 0.95
    same = detector.training_set(human, list(human))  # indistinguishable: chance
    assert 0.3 < detector.held_out_auc(*same) < 0.7
    probability, auc = detector.human_likeness(human, marked, ["page cell.", "page cell indeed."])
    assert probability[0] > 0.5 > probability[1] and auc > 0.95


def test_a_sentence_and_its_generated_twin_share_a_cross_validation_fold():
    texts, labels, groups = detector.training_set(["a b", "c d", "e f"], ["A B", "C D", "E F"])
    assert list(labels) == [1, 1, 1, 0, 0, 0] and list(groups) == [0, 1, 2, 0, 1, 2]
    with pytest.raises(ValueError, match="3 human and 2 generated"):
        detector.training_set(["a", "b", "c"], ["x", "y"])


def test_a_quality_ordered_condition_leaves_out_what_its_generator_condition_drops(conditions):
    params = {"generate": {"flagged": "drop"},
              "mitigations": {"g2-by-agreement": {"method": "order", "generator": "g2", "score": "agreement"}}}
    pd.DataFrame({"index": range(6), "de": conditions, "agreement": [10, 50, 30, 50, 20, 5]}).to_csv(
        "data/quality/g2.csv", index=False)
    mitigate.build("g2-by-agreement", params)
    assert lines("g2-by-agreement", "en") == ["g2 1", "g2 3", "g2 4", "g2 0", "g2 5"]  # g2 2 was flagged


# ------------------------------------------------------------------------------------------------ findings
def _tables(by_agreement_seed2: float):
    """Results tables as the pipeline writes them, small enough to decide every verdict by hand."""
    rows = [("real", 1000, s, b) for s, b in ((1, 2.0), (2, 2.2))] + \
           [("real", 2000, s, b) for s, b in ((1, 5.0), (2, 5.2))] + \
           [("llm", 1000, s, b) for s, b in ((1, 1.0), (2, 1.2))] + \
           [("llm", 2000, s, b) for s, b in ((1, 3.0), (2, 3.6))]
    bleu = pd.DataFrame([{"kind": "student", "experiment": "E1", "condition": c, "train_size": n, "seed": s,
                          "bleu": b} for c, n, s, b in rows])
    generators = pd.DataFrame([{"generator": "llm", "test_bleu": 20.0}])
    errors_table = pd.DataFrame([
        {"condition": "real", "indicator": "any", "applies": True, "rate": 0.02, "ci_low": 0.01, "ci_high": 0.03},
        {"condition": "llm", "indicator": "any", "applies": True, "rate": 0.035, "ci_low": 0.025, "ci_high": 0.05},
        {"condition": "llm", "indicator": "low_quality", "applies": True, "rate": 0.2, "ci_low": 0.1, "ci_high": 0.3}])
    div = pd.DataFrame([{"condition": "real", "train_size": 1000, "mtld": 70.0, "vocabulary": 2000},
                        {"condition": "llm", "train_size": 1000, "mtld": 60.0, "vocabulary": 2100}])
    summary = {"fraction_of_real": {"llm": {"largest_size": 2000, "bleu_at_largest": 3.25,
                                            "smallest_real_size_that_beats_it": 2000, "fraction": 1.0}},
               "mitigations": {"llm-by-x": {"1000": {"experiment": "E5", "bleu_mean": 2.0, "unmitigated_bleu": 1.1,
                                                      "real_bleu": 2.1, "gap_closed": 0.9}}}}
    significance = pd.DataFrame([
        # better than unmitigated (llm) in both seeds, significantly
        {"condition": "llm-by-x", "train_size": 1000, "seed": 1, "against": "llm", "bleu": 2.0, "against_bleu": 1.0,
         "significant": True},
        {"condition": "llm-by-x", "train_size": 1000, "seed": 2, "against": "llm", "bleu": by_agreement_seed2,
         "against_bleu": 1.2, "significant": True},
        # against real: significant in seed 1, but the mitigation is the better one there
        {"condition": "llm-by-x", "train_size": 1000, "seed": 1, "against": "real", "bleu": 2.0, "against_bleu": 1.9,
         "significant": True},
        {"condition": "llm-by-x", "train_size": 1000, "seed": 2, "against": "real", "bleu": by_agreement_seed2,
         "against_bleu": 2.2, "significant": False}])
    return bleu, generators, errors_table, div, summary, significance


def test_findings_decide_each_verdict_by_the_comparison_they_state():
    paras = findings.claims(*_tables(by_agreement_seed2=2.0))
    text = "\n".join(paras)
    # Claim 2 quotes the BLEU table's mean (3.3), the same number as claim 1, not a rounded copy in the summary
    assert "its 2,000-pair student (3.3 BLEU)" in text and "llm 3.3" in text
    # 4a: 3.5 % > 2 %, but the intervals [2.5, 5] and [1, 3] overlap: not shown
    assert "Claim 4a: generated data have more errors (does not hold)" in text
    # 4b: lower MTLD, larger vocabulary
    assert "(in part: 1 of 1 generators by MTLD, 0 of 1 by vocabulary)" in text
    # 5: significantly better in both seeds; the one significant test against real goes the mitigation's way
    assert "1 of 1 significantly better than unmitigated in every test; 1 of those never significantly worse" in text


def test_a_mitigation_worse_than_its_generator_in_one_seed_does_not_count_as_helping():
    text = "\n".join(findings.claims(*_tables(by_agreement_seed2=1.1)))  # seed 2: 1.1 < 1.2, "significant"
    assert "0 of 1 significantly better than unmitigated in every test" in text
    assert "significantly better than unmitigated in 1 of 2 tests" in text
