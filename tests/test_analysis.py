"""E3 error indicators, E4 diversity measures and the mitigation conditions, on inputs small enough to check by
hand."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import REPO

from regurgitative.mitigations import detector
from regurgitative.analysis import errors, indicators, lexical
from regurgitative.report import findings
from regurgitative.mitigations import mitigate
from regurgitative.conditions import control_of, describe

pytestmark = pytest.mark.unit  # the test tier (tests/conftest.py)

CFG = {"low_chrf": 30, "copied_chrf": 60, "length_ratio": [0.5, 2.0]}
DE = "Klicken Sie auf die Schaltfläche, um das Dokument zu speichern."


# ------------------------------------------------------------------------------------------------ E3
def test_a_good_translation_raises_no_indicator():
    row = indicators.indicators("Click the button to save the document.", DE,
                            "Click the button to save the document.", [], CFG)
    assert row == {k: 0 for k in (*indicators.INDICATORS, indicators.ANY)}


@pytest.mark.parametrize("english, stripped, fired", [
    ("", [], {"empty", "length_outlier", "low_quality"}),
    (DE, [], {"untranslated", "copied_source", "low_quality"}),  # untranslated, so not also wrong_language
    ("Klicken Sie auf the button, um das Dokument zu speichern.", [], {"copied_source", "wrong_language"}),
    ("Click.", [], {"length_outlier", "low_quality"}),
    ("Click the button the button the button the button the button.", [], {"repetition"}),
    ("Click the button to save the document.", ["label"], {"prompt_leftovers"}),
])
def test_each_indicator_fires_on_its_case(english, stripped, fired):
    row = indicators.indicators(english, DE, "Click the button to save the document.", stripped, CFG)
    assert {k for k in indicators.INDICATORS if row[k]} == fired
    assert row[indicators.ANY] == int(bool(fired - {"low_quality"}))


def test_indicators_undefined_for_a_human_reference_are_missing_not_zero():
    row = indicators.indicators("Click the button to save the document.", DE, None, [], CFG)
    assert row["low_quality"] is None and row["prompt_leftovers"] is None
    assert row["wrong_language"] == 0 and row["length_outlier"] == 0


def test_wilson_interval_covers_the_rate_narrows_with_more_sentences_and_is_right_at_zero():
    def rows(values):
        per_sentence = [{**{k: 0 for k in indicators.INDICATORS}, "any": v} for v in values]
        return {r["indicator"]: r for r in errors.condition_rows("g", per_sentence)}["any"]
    r = rows([1] * 100 + [0] * 300)    # rate 0.25, standard error 0.0217: a 95 % interval about 0.085 wide
    assert r["ci_low"] < 0.25 < r["ci_high"] and 0.07 < r["ci_high"] - r["ci_low"] < 0.10
    r4 = rows(([1] * 100 + [0] * 300) * 4)
    assert r4["ci_high"] - r4["ci_low"] < (r["ci_high"] - r["ci_low"]) * 0.7
    zero = rows([0] * 50)              # none seen in 50 is not "certainly none": the upper end is about 7 %
    assert zero["ci_low"] == pytest.approx(0, abs=1e-12) and 0.05 < zero["ci_high"] < 0.09


def test_condition_rows_report_rates_and_which_indicators_apply():
    per_sentence = [indicators.indicators(e, DE, None, [], CFG) for e in ("Click the button to save it.", "")]
    rows = {r["indicator"]: r for r in errors.condition_rows("real", per_sentence)}
    assert rows["empty"]["rate"] == 0.5 and rows["empty"]["n"] == 2 and rows["empty"]["applies"]
    assert not rows["low_quality"]["applies"] and "rate" not in rows["low_quality"]


def test_mcnemar_counts_only_the_sentences_where_real_and_generated_disagree():
    real = [{"any": v} for v in [0] * 90 + [1] * 10]
    # 20 more errors than real, all on sentences real got right: p tiny
    more = [{"any": v} for v in [1] * 20 + [0] * 70 + [1] * 10]
    assert errors.against_real(real, more, "any") < 1e-5
    # the same 10 % error rate on other sentences: 10 vs 10 discordant, p = 1
    moved = [{"any": v} for v in [1] * 10 + [0] * 80 + [0] * 10]
    assert errors.against_real(real, moved, "any") == pytest.approx(1.0)


# ------------------------------------------------------------------------------------------------ E4
def test_one_tokenization_lowercases_and_drops_punctuation():
    assert lexical.tokenize("Click \"OK\", then Save!") == ["click", "ok", "then", "save"]


def test_count_measures_by_hand():
    sentences = [["a", "b", "a"], ["c", "a"]]
    m = lexical.count_measures(sentences, budget=5)
    # 5 tokens, types {a, b, c}; hapaxes b and c; bigrams (a,b) (b,a) (c,a) all distinct
    assert m == {"sample_tokens": 5, "ttr": 3 / 5, "vocabulary": 3, "hapax_share": 2 / 3, "distinct_2": 1.0}
    m = lexical.count_measures(sentences + [["a", "a"]], budget=4)  # the second sentence cut to ["c"]
    assert m["sample_tokens"] == 4 and m["ttr"] == 3 / 4 and m["distinct_2"] == 1.0


def test_length_robust_measures_by_hand():
    m = lexical.length_robust_measures(["a", "b", "a", "b"], window=3, threshold=0.72)
    assert m["mattr"] == pytest.approx(2 / 3)  # windows aba, bab
    # MTLD: TTR falls to 2/3 <= 0.72 at the third token (a factor), then "b" leaves a partial factor 0;
    # forward and backward alike: 4 tokens / 1 factor
    assert m["mtld"] == pytest.approx(4.0) and m["tokens"] == 4


def test_a_text_without_a_word_has_undefined_measures_not_an_error():
    # an E9 generation that collapsed to punctuation: its tokens are none (the ci run's chain once made one)
    assert lexical.tokenize(". . , !") == []
    m = {**lexical.count_measures([[], []], budget=0), **lexical.length_robust_measures([], 100, 0.72)}
    assert m["tokens"] == m["sample_tokens"] == m["vocabulary"] == 0
    assert all(np.isnan(m[k]) for k in ("ttr", "hapax_share", "distinct_2", "mattr", "mtld"))


def test_a_repetitive_text_is_less_diverse_on_every_measure():
    varied = [lexical.tokenize(s) for s in ("Open the file menu.", "Choose a new template.",
                                              "Press enter to confirm.", "Select all rows here.")] * 5
    flat = [["open", "the", "file"], ["open", "the", "file"], ["open", "the", "menu"], ["open", "the", "file"]] * 5
    a = {**lexical.count_measures(varied, 60), **lexical.length_robust_measures(sum(varied, []), 10, 0.72)}
    b = {**lexical.count_measures(flat, 60), **lexical.length_robust_measures(sum(flat, []), 10, 0.72)}
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


def test_e3_compares_generators_that_translated_pools_of_different_sizes_on_their_common_prefix(tmp_path,
                                                                                                monkeypatch):
    # The default's Gemma translates 200 pool sentences, its teacher 2,500: E3 compares the first 200 of each
    monkeypatch.chdir(tmp_path)
    de, en = [f"Satz Nummer {i} hier" for i in range(8)], [f"Sentence number {i} here" for i in range(8)]
    (tmp_path / "data/prepared").mkdir(parents=True)
    (tmp_path / "data/prepared/pool.de").write_text("".join(x + "\n" for x in de), encoding="utf-8")
    (tmp_path / "data/prepared/pool.en").write_text("".join(x + "\n" for x in en), encoding="utf-8")
    write_items(tmp_path, "small", de[:3], [f"Sentence {i} here" for i in range(3)], {})
    write_items(tmp_path, "large", de, [f"The sentence {i} here" for i in range(8)], {})
    params = {"grid": {"generators": ["small"], "teachers": ["large"]}, "generate": {"pool_size": 8},
              "generators": {"small": {"pool_size": 3}, "large": {}},
              **{k: yaml.safe_load((REPO / "params.yaml").read_text())[k] for k in ("errors", "significance")}}
    table = errors.measure(params)
    assert set(table["condition"]) == {"real", "small", "large"}
    assert set(table[table["indicator"] == "any"]["n"]) == {3}
    write_items(tmp_path, "large", de[:5], [f"The sentence {i} here" for i in range(5)], {})   # a stale pool
    with pytest.raises(ValueError, match="large/items.jsonl: 5 pool sentences"):
        errors.measure(params)


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


def test_the_control_has_the_same_sentences_in_the_same_order_with_their_human_english(conditions):
    recipe = {"method": "order", "generator": "g1", "score": "agreement"}
    params = {"generate": {"flagged": "keep"}, "grid": {"mitigations": ["g1-by-agreement", "real-by-agreement"]},
              "mitigations": {"g1-by-agreement": recipe, "real-by-agreement": {**recipe, "english": "real"}}}
    mitigate.build("g1-by-agreement", params)
    mitigate.build("real-by-agreement", params)
    assert lines("real-by-agreement", "de") == lines("g1-by-agreement", "de")
    assert lines("real-by-agreement", "en") == ["real 1", "real 3", "real 2", "real 4", "real 0", "real 5"]
    assert control_of(params, "g1-by-agreement") == "real-by-agreement"
    assert describe(params, "real-by-agreement")["role"] == "control"
    assert describe(params, "g1-by-agreement")["role"] == "mitigation"


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
def _row(family, a, n_a, b, n_b, diff, low, high, p, outcome):
    return {"family": family, "a": a, "a_size": n_a, "b": b, "b_size": n_b, "a_bleu": 10 + diff, "b_bleu": 10.0,
            "difference": diff, "ci_low": low, "ci_high": high, "interval": "seeds-t", "p_value": p, "p_holm": p,
            "outcome": outcome}


def _tables(mitigation_vs_llm: str = "better", real_2000_learned: bool = True):
    """Results tables as the pipeline writes them, small enough to decide every verdict by hand."""
    generators = pd.DataFrame([{"generator": "llm", "test_bleu": 20.0}, {"generator": "weak", "test_bleu": 5.0}])
    errors_table = pd.DataFrame([
        {"condition": "real", "indicator": "any", "applies": True, "rate": 0.02, "ci_low": 0.01, "ci_high": 0.03},
        {"condition": "llm", "indicator": "any", "applies": True, "rate": 0.09, "ci_low": 0.07, "ci_high": 0.11,
         "p_holm_vs_real": 1e-6, "outcome": "more"},
        {"condition": "weak", "indicator": "any", "applies": True, "rate": 0.025, "ci_low": 0.01, "ci_high": 0.04,
         "p_holm_vs_real": 0.4, "outcome": "undecided"}])
    div = pd.DataFrame([
        {"condition": "real", "train_size": 2000, "mtld": 70.0, "vocabulary": 2000, "mtld_ci_low": 66, "mtld_ci_high": 74},
        {"condition": "llm", "train_size": 2000, "mtld": 60.0, "vocabulary": 1900, "mtld_ci_low": 57, "mtld_ci_high": 63,
         "mtld_diff_ci_low": -14, "mtld_diff_ci_high": -6, "mtld_p_holm": 0.01, "mtld_outcome": "lower",
         "vocabulary_p_holm": 0.01, "vocabulary_outcome": "lower"},
        {"condition": "weak", "train_size": 2000, "mtld": 50.0, "vocabulary": 1500, "mtld_ci_low": 47, "mtld_ci_high": 53,
         "mtld_diff_ci_low": -24, "mtld_diff_ci_high": -16, "mtld_p_holm": 0.01, "mtld_outcome": "lower",
         "vocabulary_p_holm": 0.01, "vocabulary_outcome": "lower"}])
    sig = pd.DataFrame([
        _row("E1-generated", "real", 1000, "llm", 1000, 2.0, 1.0, 3.0, 0.004, "better"),
        _row("E1-generated", "real", 2000, "llm", 2000, 3.0, 2.0, 4.0, 0.004, "better"),
        _row("E1-generated", "real", 1000, "weak", 1000, 5.0, 4.0, 6.0, 0.004, "better"),
        _row("E1-generated", "real", 2000, "weak", 2000, 6.0, 5.0, 7.0, 0.004,
             "better" if real_2000_learned else "not learned"),
        _row("E1-fraction", "real", 1000, "llm", 2000, -1.0, -2.0, 0.2, 0.2, "undecided"),
        _row("E1-fraction", "real", 1000, "weak", 2000, 2.0, 1.0, 3.0, 0.004, "better"),
        _row("mitigations", "llm-by-x", 1000, "llm", 1000, 1.5, 0.5, 2.5, 0.01, mitigation_vs_llm),
        _row("mitigations", "real", 1000, "llm-by-x", 1000, 0.5, 0.2, 0.8, 0.02, "better"),
        _row("E5-E7-split", "real-by-x", 1000, "llm-by-x", 1000, 1.0, 0.4, 1.6, 0.01, "better"),
        _row("E5-E7-split", "real-by-x", 1000, "real", 1000, 0.2, -0.5, 0.9, 0.5, "equivalent")])
    intervals = pd.DataFrame([{"condition": c, "train_size": n, "seeds": 3, "bleu": 8.0, "ci_low": 7.0, "ci_high": 9.0,
                               "chrf": 31.0, "chrf_ci_low": 29.0, "chrf_ci_high": 33.0, "bleu_floor": 5.1,
                               "chrf_floor": 27.3, "interval": "seeds-t", "learned": True}
                              for c in ("real", "llm", "weak") for n in (1000, 2000)])
    return generators, errors_table, div, sig, intervals, {"bleu": 3.4, "chrf": 24.3}


def test_findings_decide_each_verdict_from_the_corrected_comparisons():
    text = findings.markdown(findings.claims(*_tables()))
    assert "**Claim 1: regurgitative training is worse than training on real data: holds.**" in text
    # claim 2: real at 1,000 beats weak at 2,000, but not llm (undecided): not for every generator
    assert "**Claim 2: a fraction of real data beats the largest regurgitative size: inconclusive.**" in text
    assert "beaten by real data at 1,000 pairs (a fraction of 0.50)" in text
    assert "**Claim 3: the loss appears for a low- and a high-performance generator: holds.**" in text
    # 4a: one generator more, one undecided: inconclusive, not "holds"
    assert "**Claim 4a: generated data have more errors: inconclusive.**" in text
    assert "**Claim 4b: generated data are less diverse: holds.**" in text
    assert "**Claim 5: mitigations help without closing the gap: holds.**" in text
    assert "1 of 1 mitigations (each at each size) significantly better than their unmitigated generator, 1 of those" in text
    assert "English versus selection: analysis" in text and "the selection effect" in text


def test_a_comparison_that_cannot_decide_for_want_of_learning_is_left_out_and_counted():
    text = findings.markdown(findings.claims(*_tables(real_2000_learned=False)))
    assert "**Claim 1: regurgitative training is worse than training on real data: holds.**" in text
    assert "Left out of the verdict for want of learning: 1 of 4 comparisons." in text
    assert "not learned: the group ahead, or one of two alike, did not clear the learned floors" in text


def test_a_claim_with_no_comparison_that_can_decide_is_inconclusive():
    generators, errors_table, div, sig, intervals, copy = _tables()
    sig.loc[sig.family == "E1-generated", "outcome"] = "not learned"
    text = findings.markdown(findings.claims(generators, errors_table, div, sig, intervals, copy))
    assert "**Claim 1: regurgitative training is worse than training on real data: inconclusive.**" in text
    assert "**Claim 3: the loss appears for a low- and a high-performance generator: inconclusive.**" in text


def test_each_verdict_states_its_rule_and_the_learned_rule_is_stated_with_both_floors():
    generators, errors_table, div, sig, intervals, copy = _tables()
    intervals.loc[0, ["learned", "chrf", "chrf_ci_low"]] = [False, 26.0, 25.0]
    paragraphs = findings.claims(generators, errors_table, div, sig, intervals, copy)
    for title, verdict, text in paragraphs:
        if verdict in ("holds", "does not hold", "inconclusive"):
            assert "Rule: holds if" in text, title
    text = findings.markdown(paragraphs)
    assert "above 5.1 BLEU and 27.3 chrF" in text and "3.4 BLEU and 24.3 chrF" in text
    assert "**Students learn: 5 of 6 groups.**" in text and "real (1,000) 8.0 [7.0, 9.0] BLEU, 26.0 [25.0, 33.0] chrF" in text


def test_a_single_run_comparison_says_it_counts_test_sentences_only():
    generators, errors_table, div, sig, intervals, copy = _tables()
    sig.loc[0, "interval"] = "sentences"
    text = findings.markdown(findings.claims(generators, errors_table, div, sig, intervals, copy))
    assert "real (1,000) 12.0 vs llm (1,000) 10.0: +2.0 [+1.0, +3.0], test sentences only, p_Holm 0.004" in text
    assert "real (2,000) 13.0 vs llm (2,000) 10.0: +3.0 [+2.0, +4.0], p_Holm 0.004" in text


@pytest.mark.parametrize("outcome, verdict", [("undecided", "inconclusive"), ("worse", "does not hold"),
                                              ("equivalent", "does not hold")])
def test_a_mitigation_that_does_not_significantly_help(outcome, verdict):
    text = findings.markdown(findings.claims(*_tables(mitigation_vs_llm=outcome)))
    assert f"**Claim 5: mitigations help without closing the gap: {verdict}.**" in text


def test_the_report_reads_what_exists_names_what_is_missing_and_an_experiment_that_did_not_run(
        tmp_path, monkeypatch, capsys):
    """results.load, what findings and figures read: a missing table is named and left out (a partial pull), an
    E10 table without columns (E10 switched off) reads as empty, a BLEU table from before E5-E8 is all E1."""
    from regurgitative.report import results
    (tmp_path / "bleu.csv").write_text("condition,train_size,seed,bleu\nreal,100,1,5.0\n")
    (tmp_path / "quality.json").write_text('{"agreement": {}}')
    for name in ("finetune.csv", "finetune-intervals.csv", "finetune-significance.csv"):
        (tmp_path / name).write_text("\n")
    monkeypatch.setattr(results, "CORE", {"bleu": tmp_path / "bleu.csv", "quality": tmp_path / "quality.json",
                                          "errors": tmp_path / "errors.csv"})
    monkeypatch.setattr(results, "E9", {"recursion": tmp_path / "recursion.csv",
                                        "recursion_intervals": tmp_path / "recursion-intervals.csv"})
    monkeypatch.setattr(results, "E10", {"finetune": tmp_path / "finetune.csv",
                                         "finetune_intervals": tmp_path / "finetune-intervals.csv",
                                         "finetune_significance": tmp_path / "finetune-significance.csv"})
    tables = results.load("figures")
    assert set(tables) == {"bleu", "quality", "finetune", "finetune_intervals", "finetune_significance"}
    assert list(tables["bleu"].experiment) == ["E1"] and tables["quality"] == {"agreement": {}}
    missing = capsys.readouterr().err
    assert all(f"{tmp_path / n}: not found, figures skips" in missing
               for n in ("errors.csv", "recursion.csv", "recursion-intervals.csv"))
    assert results.experiment(tables, results.E9) is None
    assert [t.empty for t in results.experiment(tables, results.E10)] == [True, True, True]


def test_the_readme_block_states_the_learned_rule_and_marks_the_groups_that_did_not_learn(tmp_path):
    from regurgitative.report import figures
    generators, _, _, _, intervals, _ = _tables()
    intervals.loc[0, "learned"] = False
    bleu = pd.DataFrame([{"kind": "student", "experiment": "E1", "condition": c, "train_size": n, "seed": 1,
                          "bleu": 8.0, "chrf": 31.0} for c in ("real", "llm", "weak") for n in (1000, 2000)]
                        + [{"kind": "baseline", "experiment": None, "condition": "copy_source", "bleu": 3.4,
                            "chrf": 24.3}])
    generators = generators.assign(test_chrf=[45.0, 25.0])
    (md,) = figures.results_block(bleu, generators, intervals, "- **Claim 1: x: holds.** text\n",
                                  tmp_path / "readme_results")
    text = md.read_text(encoding="utf-8")
    assert ("Learned: the lower end of its 95 % interval over seeds above 5.1 BLEU and 27.3 chrF (max of an absolute "
            "level and copying the German, which scores 3.4 BLEU and 24.3 chrF, by a margin;") in text
    assert "| `real` | E1 | 8.0 [7.0, 9.0] ✗ | 8.0 [7.0, 9.0] |" in text
    assert "- **Claim 1: x: holds.**" in text


def test_e10_findings_say_when_intervals_count_test_sentences_only():
    intervals = pd.DataFrame([
        {"condition": "base zero-shot", "role": "base", "size": 0, "seeds": 1, "bleu": 2.0, "interval": "sentences"},
        {"condition": "base few-shot", "role": "base", "size": 0, "seeds": 1, "bleu": 4.0, "interval": "sentences"},
        {"condition": "real", "role": "real", "size": 100, "seeds": 1, "bleu": 9.0, "interval": "sentences"},
        {"condition": "g", "role": "self", "size": 100, "seeds": 1, "bleu": 7.0, "interval": "sentences"}])
    sig = pd.DataFrame([
        {**_row("E10-real", "real", 100, "g", 100, 2.0, 1.0, 3.0, 0.01, "better"), "interval": "sentences"},
        {**_row("E10-fine-tuning", "real", 100, "base few-shot", 0, 5.0, 4.0, 6.0, 0.01, "better"),
         "interval": "sentences"}])
    text = findings.markdown(findings.finetune_claims(intervals, sig))
    assert "1 seed per point; intervals over test sentences only" in text
    assert "+2.0 [+1.0, +3.0], test sentences only, p_Holm 0.010" in text
    assert "**E10, claim A: fine-tuning on regurgitative data loses to real data: holds.**" in text
    assert "Rule: holds if every comparison that can decide" in text


def test_a_table_made_before_the_learned_rule_is_named_and_left_out(tmp_path, monkeypatch, capsys):
    """Its `learned` and outcomes follow the old rule (1.5 x copy-source BLEU only): no verdict is drawn from it."""
    from regurgitative.report import results
    (tmp_path / "intervals.csv").write_text("condition,train_size,seeds,bleu,ci_low,ci_high,floor,learned\n"
                                            "real,100,3,6.0,5.5,6.5,5.1,True\n")
    (tmp_path / "significance.csv").write_text("family,a,b,interval,outcome\nF,real,g,seeds-t,better\n")
    monkeypatch.setattr(results, "CORE", {"intervals": tmp_path / "intervals.csv",
                                          "significance": tmp_path / "significance.csv"})
    monkeypatch.setattr(results, "E9", {})
    monkeypatch.setattr(results, "E10", {})
    tables = results.load("findings")
    assert set(tables) == {"significance"}
    assert "intervals.csv: made before the learned rule (no bleu_floor, chrf" in capsys.readouterr().err
