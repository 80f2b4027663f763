"""From an LLM's raw answer to a translation: strip what is not the translation, flag what is not a good one.

Stripped (recorded in `stripped`, so nothing disappears unseen): a continuation of the few-shot pattern
("German: ..." after the answer), a preamble ("Here is the translation:"), labels ("English:"), an echo
of the German source, surrounding quotes, trailing notes and explanations, everything after the first line.

Flagged, never dropped here (what a condition does with flagged items is `generate.flagged` in params):
`empty`, `refusal`, `untranslated` (the source handed back), `wrong_language` (not English), `repetition`
(a loop), `truncated` (the answer hit max_tokens).
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from regurgitative.text import dedup_key, normalize

FLAGS = ("empty", "refusal", "untranslated", "wrong_language", "repetition", "truncated")

_PATTERN_CONTINUATION = re.compile(r"\s*\b(German|Deutsch|English|Englisch|Source|Target)\s*:", re.IGNORECASE)
_PREAMBLE = re.compile(r"^\s*(sure[,!.]?\s*)?(here\s+is|here's|this\s+is|the\s+(english\s+)?translation\b)"
                       r"[^:\n]{0,80}:\s*", re.IGNORECASE)
_LABEL = re.compile(r"^\s*(english(\s+translation)?|translation|translated(\s+text)?|answer|output|"
                    r"en|übersetzung)\s*:\s*", re.IGNORECASE)
_QUOTES = [('"', '"'), ("“", "”"), ("„", "“"), ("'", "'"), ("‘", "’"), ("«", "»"), ("»", "«"), ("`", "`")]
_NOTE = re.compile(r"\s*(\(\s*(note|translation|translated|literally|or)\b[^)]*\)|\b(note|explanation)\s*:.*)$",
                   re.IGNORECASE)
_REFUSAL = re.compile(r"\b(I'?m sorry|I am sorry|I apologi[sz]e|I can(no|')t|I am unable|I'?m unable|"
                      r"as an AI|I do not understand|I don't understand|unable to translate)\b", re.IGNORECASE)
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass
class Cleaned:
    text: str
    flags: list[str] = field(default_factory=list)
    stripped: list[str] = field(default_factory=list)   # which kinds of leftover were removed


def clean(raw: str, source: str, finish_reason: str = "stop") -> Cleaned:
    stripped: list[str] = []
    text = raw.replace("\r\n", "\n")

    # A base model continues the few-shot pattern: the answer ends where the next "German:" starts.
    m = _PATTERN_CONTINUATION.search(text)
    if m and text[:m.start()].strip():
        text, _ = text[:m.start()], stripped.append("pattern_continuation")
    elif m:  # the answer starts with a label line, e.g. "German: <source>\nEnglish: <answer>"
        lines = [ln for ln in text.split("\n") if ln.strip()]
        if len(lines) > 1 and _looks_like_echo(_PATTERN_CONTINUATION.sub("", lines[0], count=1), source):
            text, _ = "\n".join(lines[1:]), stripped.append("prompt_echo")
    text = text.strip()
    if _PREAMBLE.match(text):
        rest = _PREAMBLE.sub("", text, count=1).strip()
        if rest:
            text, _ = rest, stripped.append("preamble")
    # The translation of one sentence is one line: what follows is an explanation or a second attempt.
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    if len(lines) > 1:
        text, _ = lines[0], stripped.append("extra_lines")
    if _LABEL.match(text):
        text, _ = _LABEL.sub("", text, count=1), stripped.append("label")
    if _looks_like_echo(text.split(" - ")[0].split(" = ")[0], source) and (" - " in text or " = " in text):
        text, _ = re.split(r" [-=] ", text, maxsplit=1)[1], stripped.append("prompt_echo")
    if _NOTE.search(text) and _NOTE.sub("", text).strip():
        text, _ = _NOTE.sub("", text), stripped.append("note")
    text = text.strip()
    for left, right in _QUOTES:
        if len(text) >= 2 and text.startswith(left) and text.endswith(right) and left not in text[1:-1]:
            if not (source.startswith(left) and source.endswith(right)):
                text, _ = text[1:-1].strip(), stripped.append("quotes")
            break
    text = normalize(text)
    return Cleaned(text, flag(text, source, finish_reason), stripped)


def _looks_like_echo(text: str, source: str) -> bool:
    key = dedup_key(text)
    return bool(key) and key == dedup_key(source)


def flag(text: str, source: str, finish_reason: str = "stop") -> list[str]:
    flags: list[str] = []
    if not text:
        return ["empty"] + (["truncated"] if finish_reason == "length" else [])
    if _REFUSAL.search(text):
        flags.append("refusal")
    if dedup_key(text) == dedup_key(source) and dedup_key(source):
        flags.append("untranslated")
    elif language(text) not in ("en", None):
        flags.append("wrong_language")
    if is_repetition(text):
        flags.append("repetition")
    if finish_reason == "length":
        flags.append("truncated")
    return flags


_LETTER_LOOP = re.compile(r"([^\W\d_]{1,4})\1{5,}")  # "Ifffffff", "TThhhhhh": a small model's subword loop


def is_repetition(text: str, min_repeats: int = 4) -> bool:
    """A loop: some word n-gram (n = 1..4) repeated `min_repeats` times in a row, a letter group repeated six
    times within a word, or a long text with few distinct words."""
    if _LETTER_LOOP.search(text):
        return True
    words = [w.casefold() for w in _WORD.findall(text)]
    for n in range(1, 5):
        for i in range(len(words) - n * min_repeats + 1):
            gram = words[i:i + n]
            if all(words[i + k * n:i + (k + 1) * n] == gram for k in range(1, min_repeats)):
                return True
    return len(words) >= 20 and len(set(words)) / len(words) < 0.3


@functools.lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier
    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    # The languages a small model slips into when asked to translate German; a closed set keeps short
    # sentences from being called Latin or Luxembourgish.
    ident.set_languages(["en", "de", "fr", "es", "it", "nl", "pt", "sv", "da", "pl"])
    return ident


def language(text: str, min_words: int = 4, min_probability: float = 0.9) -> str | None:
    """The language of `text` when it is long enough to tell and the identifier is sure; else None."""
    if len(_WORD.findall(text)) < min_words:
        return None
    lang, prob = _identifier().classify(text)
    return lang if prob >= min_probability else None
