"""Scores are sacreBLEU's, identical to its command line on the same files."""
from __future__ import annotations

import pytest
from helpers import sacrebleu_cli

from regurgitative import scoring

pytestmark = pytest.mark.unit  # the test tier (tests/conftest.py)


def test_scores_equal_the_sacrebleu_command_line(tmp_path):
    ref, hyp = tmp_path / "ref.en", tmp_path / "hyp.en"
    ref.write_text("The cat sat on the mat.\nChoose Format - Cells.\nHello world\n", encoding="utf-8")
    hyp.write_text("The cat sat on a mat.\nChoose Format - Cell\n  Hello, world\n", encoding="utf-8")
    ours = scoring.score_files(hyp, ref)
    cli = sacrebleu_cli(ref, hyp)
    assert ours["bleu"] == pytest.approx(cli["BLEU"], abs=1e-4)
    assert ours["chrf"] == pytest.approx(cli["chrF2"], abs=1e-4)
    assert ours["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:")
    assert 0 < ours["bleu"] < 100


def test_perfect_translation_scores_100():
    refs = ["Click the icon.", "Open a new document."]
    assert scoring.score(refs, refs)["bleu"] == pytest.approx(100.0)


def test_misaligned_hypotheses_are_refused():
    with pytest.raises(ValueError, match="2 hypotheses for 3 references"):
        scoring.score(["a", "b"], ["a", "b", "c"])
