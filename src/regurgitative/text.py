"""Text primitives below every step of the study (data, generators, students, analysis): how a sentence is
normalised and compared for near-duplicates, and how the line-aligned text files (one sentence per line) are read
and written, the sacrebleu command line's way. Nothing here reads params.yaml or imports another module of the
package."""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path

_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"\w+")


def normalize(text: str) -> str:
    """Unicode NFC, one space between words, no control characters."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in text)
    return _SPACE.sub(" ", text).strip()


def dedup_key(text: str) -> str:
    """Case-, punctuation- and digit-insensitive form: near-duplicates share it."""
    return " ".join(w for w in _WORD.findall(text.casefold()) if not w.isdigit())


def read_lines(path: Path) -> list[str]:
    """One segment per line, the trailing newline removed, nothing stripped (as the sacrebleu CLI reads)."""
    with path.open(encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def write_lines(path: Path, lines: list) -> None:
    """One line per item, each ending in a newline."""
    path.write_text("".join(f"{x}\n" for x in lines), encoding="utf-8")
