"""The fairseq teacher's pieces that need no training: where its real pairs come from, and how its beam-search
output is read back."""
from __future__ import annotations

import math

import pytest

from regurgitative.generators import generated, teacher
from regurgitative.paths import PREPARED_DIR

pytestmark = pytest.mark.unit  # the test tier (tests/conftest.py)


@pytest.fixture
def prepared(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / PREPARED_DIR).mkdir(parents=True)
    (tmp_path / PREPARED_DIR / "pool.de").write_text("".join(f"Satz {i}\n" for i in range(50)))
    return {"grid": {"train_sizes": [10, 20], "teachers": ["t"]}, "generate": {"pool_size": 20, "detector_size": 0},
            "generators": {"t": {"kind": "fairseq", "train_pairs": 30}}}


def test_a_teacher_trains_on_the_pairs_after_the_student_pool(prepared):
    cfg = teacher.teacher_config(prepared, "t")
    assert teacher.training_lines(prepared, cfg, "t") == (20, 30)


def test_a_teacher_that_would_reach_past_the_pool_is_refused_with_the_key_named(prepared):
    prepared["generators"]["t"]["train_pairs"] = 31
    with pytest.raises(ValueError, match=r"generators\.t\.train_pairs is 31.*50 pairs: the first 20"):
        teacher.training_lines(prepared, prepared["generators"]["t"], "t")


def test_an_llm_named_as_teacher_is_refused(prepared):
    prepared["generators"]["t"]["kind"] = "llama_cpp"
    with pytest.raises(ValueError, match="not fairseq"):
        teacher.teacher_config(prepared, "t")


def test_translations_come_back_in_input_order_with_natural_log_confidence(tmp_path):
    log = tmp_path / "translate.log"
    log.write_text("S-1\t▁zwei\nH-1\t-1.0\tTwo words\nD-1\t-1.0\tTwo words\nP-1\t-1.0 -1.0\n"
                   "S-0\t▁eins\nH-0\t-0.5\tOne\n")
    answers = teacher.read_translations(log, 2)
    assert [a["text"] for a in answers] == ["One", "Two words"]
    assert answers[0]["mean_logprob"] == pytest.approx(-0.5 * math.log(2), abs=1e-4)
    with pytest.raises(RuntimeError, match=r"2 hypotheses for 3 sentences \(missing \[2\]"):
        teacher.read_translations(log, 3)


def test_the_detector_split_comes_after_every_student_and_teacher_sentence(prepared):
    prepared["generators"]["t"]["train_pairs"] = 20
    prepared["generate"]["detector_size"] = 10
    assert generated.detector_lines(prepared) == (40, 10)  # students 0-19, teacher 20-39, detector 40-49
    assert teacher.training_lines(prepared, prepared["generators"]["t"], "t") == (20, 20)
    # The detector split depends on the pool and its size only (adding a teacher reruns no LLM); a teacher whose
    # pairs would reach into it is refused by the teacher's stage.
    prepared["generate"]["detector_size"] = 11
    assert generated.detector_lines(prepared) == (39, 11)
    with pytest.raises(ValueError, match=r"train_pairs is 20.*the last 11 the detector split"):
        teacher.training_lines(prepared, prepared["generators"]["t"], "t")
    prepared["generate"]["detector_size"] = 31
    with pytest.raises(ValueError, match=r"generate\.detector_size is 31.*50 pairs.*first 20"):
        generated.detector_lines(prepared)
