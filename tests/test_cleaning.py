"""Cleaning LLM answers: a table of bad outputs of the kinds the local models produce (the German sources are
from the embedded corpus), what cleaning keeps of each, and which flags it raises."""
from __future__ import annotations

import pytest

from regurgitative import cleaning

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


@pytest.mark.parametrize("source, raw, finish, text, flags, stripped", CASES)
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
                                       ("yes, yes, yes", False)])
def test_repetition_loops(text, loop):
    assert cleaning.is_repetition(text) is loop
