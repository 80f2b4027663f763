"""Cleaning LLM answers: a table of bad outputs of the kinds the local models produce (the German sources are
from the embedded corpus), what cleaning keeps of each, and which flags it raises."""
from __future__ import annotations

import pytest

from regurgitative import cleaning

pytestmark = pytest.mark.unit  # the test tier (tests/conftest.py)

CASES = [
    # (German source, raw answer, finish_reason, cleaned text, flags, stripped)
    ("Klicken Sie auf OK.", " Click OK.", "stop", "Click OK.", [], []),
    # a base model continuing the few-shot pattern
    ("Wählen Sie Format - Zellen.", " Choose Format - Cells.\n\nGerman: Öffnen Sie ein Dokument.\nEnglish: Open a document.",
     "stop", "Choose Format - Cells.", [], ["pattern_continuation"]),
    # an instruct model's preamble, label and quotes
    ("Das Dokument wird gespeichert.", 'Here is the translation:\n\n"The document is saved."', "stop",
     "The document is saved.", [], ["preamble", "quotes"]),
    ("Das Dokument wird gespeichert.", "English: The document is saved.", "stop", "The document is saved.", [], ["label"]),
    ("Das Dokument wird gespeichert.", "Translation: The document is saved.", "stop", "The document is saved.", [],
     ["label"]),
    # an explanation after the translation
    ("Fügt eine neue Tabelle ein.", "Inserts a new table.\n\nNote: \"Tabelle\" can also mean spreadsheet.", "stop",
     "Inserts a new table.", [], ["extra_lines"]),
    ("Fügt eine neue Tabelle ein.", "Inserts a new table. (Note: literally 'inserts a new table')", "stop",
     "Inserts a new table.", [], ["note"]),
    # the prompt echoed back before the answer
    ("Fügt eine neue Tabelle ein.", "German: Fügt eine neue Tabelle ein.\nEnglish: Inserts a new table.", "stop",
     "Inserts a new table.", [], ["prompt_echo", "label"]),
    # flagged, kept
    ("Fügt eine neue Tabelle ein.", "", "stop", "", ["empty"], []),
    ("Fügt eine neue Tabelle ein.", "   \n", "length", "", ["empty", "truncated"], []),
    ("Löscht den markierten Bereich.", "I'm sorry, but I cannot translate this text.", "stop",
     "I'm sorry, but I cannot translate this text.", ["refusal"], []),
    ("Löscht den markierten Bereich.", "Löscht den markierten Bereich.", "stop", "Löscht den markierten Bereich.",
     ["untranslated"], []),
    ("Diese Funktion ist nur verfügbar, wenn Sie die Tabelle vorher gespeichert haben.",
     "Diese Funktion ist nur dann verfügbar, wenn Sie die Tabelle gespeichert haben.", "stop",
     "Diese Funktion ist nur dann verfügbar, wenn Sie die Tabelle gespeichert haben.", ["wrong_language"], []),
    ("Legt die Breite der Spalte fest.", "Sets the width of the the the the the the column", "length",
     "Sets the width of the the the the the the column", ["repetition", "truncated"], []),
]


# Real answers of the local models (SmolLM2-135M-Instruct zero-shot and few-shot, Gemma-3-270M few-shot) to
# sentences of the embedded corpus, collected while choosing the prompts in params.yaml.
REAL = [
    ("Niedrig: 7 % der Codewörter können wiederhergestellt werden.",
     'English: "The code is not available."\n\nIn this context, the user\'s German text refers to a specific error '
     "in the English translation. The original sentence was:\n\nNiedrig: 7 % der Codewörter können wiegeht werden.",
     "stop", "The code is not available.", [], ["extra_lines", "label", "quotes"]),
    ("Öffnet ein Untermenü mit Folielayouts.",
     'Öffnet ein Untermöglichkeit mit Folielayouts.\n\nIn German, the correct translation is "Eine '
     'Untermöglichkeit mit Folielausschlüfkung" (English: A Unitemente mit Foliebildungen).',
     "stop", "Öffnet ein Untermöglichkeit mit Folielayouts.", ["wrong_language"],
     ["pattern_continuation", "extra_lines"]),
    ("Entfernt Leerstellen aus einer Zeichenfolge und lässt nur einzelne Leerzeichen zwischen Worten stehen.",
     "The translation of the user's German text into English is:\n\n\"Entfernt Leerstellen aus einer Zeichenfolge "
     'und lässt nur einzelne Leerzeichen zu stehen."\n\nIn this example, the user', "length",
     "Entfernt Leerstellen aus einer Zeichenfolge und lässt nur einzelne Leerzeichen zu stehen.",
     ["wrong_language", "truncated"], ["preamble", "extra_lines", "quotes"]),
    ("Wählen Sie Einfügen – Briefumschlag… – Register: Format.",
     "The Register Format – Formats for the Register of the Register of the Register of the Register of the "
     "Register of the Register of the Re", "length",
     "The Register Format – Formats for the Register of the Register of the Register of the Register of the "
     "Register of the Register of the Re", ["repetition", "truncated"], []),
    ("Deaktivieren Sie keine Platzhalter in Formeln für Tabellendokumente, welche die Kompatibilität zu Microsoft "
     "Excel erfordern.",
     " Deaktivieren Sie keine Platzhalter in Formeln für Tabellendokumente, welche die Kompatibilität zu Microsoft "
     "Excel erfordern.", "stop",
     "Deaktivieren Sie keine Platzhalter in Formeln für Tabellendokumente, welche die Kompatibilität zu Microsoft "
     "Excel erfordern.", ["untranslated"], []),
    ("Gibt den gewählten Animationseffekt in der Vorschau wieder.", " Gives the selected animation effect in the preview",
     "stop", "Gives the selected animation effect in the preview", [], []),
]


@pytest.mark.parametrize("source, raw, finish, text, flags, stripped", CASES + REAL)
def test_cleaning_table(source, raw, finish, text, flags, stripped):
    c = cleaning.clean(raw, source, finish)
    assert (c.text, c.flags, c.stripped) == (text, flags, stripped)


def test_quotes_that_belong_to_the_source_stay():
    c = cleaning.clean('"Save As"', '"Speichern unter"')
    assert c.text == '"Save As"' and c.stripped == []


def test_language_is_only_judged_when_it_can_be():
    assert cleaning.language("Speichern") is None  # too short to tell
    assert cleaning.language("Choose the cell range that you want to sort.") == "en"
    assert cleaning.language("Wählen Sie den Zellbereich, den Sie sortieren möchten.") == "de"


@pytest.mark.parametrize("text, loop", [("the the the the", True), ("a b a b a b a b", True),
                                       ("Click the button to open the dialog.", False),
                                       ("yes, yes, yes", False),
                                       # a fairseq teacher trained on 100 pairs (ci profile)
                                       ("Ifffffffffffffffssssssss the TThhhhhhhhhhhh", True),
                                       ("Mississippi, bookkeeper, 1000000 rows", False)])
def test_repetition_loops(text, loop):
    assert cleaning.is_repetition(text) is loop
