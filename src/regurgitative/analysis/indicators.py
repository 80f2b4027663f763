"""E3's error indicators of one sentence, shared by stage errors and by E9's collapse, which measures each
generation the same way (the table in analysis/errors.py says when each fires)."""
from __future__ import annotations

from sacrebleu.metrics import CHRF

from regurgitative import cleaning

INDICATORS = ("low_quality", "empty", "untranslated", "copied_source", "wrong_language", "length_outlier",
              "repetition", "prompt_leftovers")
NOT_ON_REAL = ("low_quality", "prompt_leftovers")  # undefined for a human reference (see the table above)
ANY = "any"


def indicators(english: str, german: str, reference: str | None, stripped: list[str], cfg: dict) -> dict:
    """The indicators of one sentence; `reference` None means the English is the human reference itself."""
    chrf = CHRF()
    flags = cleaning.flag(english, german)
    lo, hi = cfg["length_ratio"]
    ratio = len(english) / max(1, len(german))
    row = {
        "low_quality": None if reference is None else
        int(chrf.sentence_score(english, [reference]).score < cfg["low_chrf"]),
        "empty": int("empty" in flags),
        "untranslated": int("untranslated" in flags),
        "copied_source": int(bool(english) and chrf.sentence_score(english, [german]).score >= cfg["copied_chrf"]),
        "wrong_language": int("wrong_language" in flags),
        "length_outlier": int(not lo <= ratio <= hi),
        "repetition": int("repetition" in flags),
        "prompt_leftovers": None if reference is None else
        int(any(s in ("prompt_echo", "label", "pattern_continuation", "preamble") for s in stripped)),
    }
    row[ANY] = int(any(row[k] for k in INDICATORS if k != "low_quality" and row[k] is not None))
    return row
