"""Sentence pairs from the Ding German-English dictionary's usage examples (Debian package trans-de-en,
GPL-2+): a real, human-translated corpus of another domain (everyday sentences) for the tests that bring a
user's own corpus (two aligned files without document ids, and its own held-out test files) through the
pipeline: the ci profile runs on it (profiles/ci.yaml).

    apt-get download trans-de-en && dpkg-deb -x trans-de-en_*.deb x     # trans-de-en 1.9-6 (Debian 12)
    python tests/data/ding/extract.py x/usr/share/trans/de-en tests/data/ding/ding 1000 --test 120

An entry is `German parts :: English parts`, the parts aligned by ` | `; a part that is one sentence (a capital
first letter, a final . ? or !, at least four words, no synonym list) is a pair. Bracketed labels ([Am.],
{f}, <...>) are removed. `n` pairs spread evenly over the dictionary (every k-th, so not all from one letter)
are written, each file one sentence a line; with --test N the last N of them go to test.de and test.en
beside them instead.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

LABELS = re.compile(r"\s*(\[[^\]]*\]|\{[^}]*\}|<[^>]*>)")
SENTENCE = re.compile(r"^[A-ZÄÖÜ].*[.?!]$")


def sentence(part: str) -> str | None:
    part = re.sub(r"\s+", " ", LABELS.sub("", part)).strip()
    if ";" in part or len(part.split()) < 4 or not SENTENCE.match(part):
        return None
    return part


def pairs(path: Path):
    seen = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or " :: " not in line:
            continue
        de_side, en_side = line.split(" :: ", 1)
        de_parts, en_parts = de_side.split(" | "), en_side.split(" | ")
        if len(de_parts) != len(en_parts):
            continue
        for d, e in zip(de_parts, en_parts):
            d, e = sentence(d), sentence(e)
            if d and e and d not in seen:
                seen.add(d)
                yield d, e


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path, help="the dictionary: usr/share/trans/de-en of the package")
    ap.add_argument("prefix", type=Path, help="writes PREFIX.de and PREFIX.en")
    ap.add_argument("n", type=int, help="pairs in all")
    ap.add_argument("--test", type=int, default=0, help="the last N pairs go to test.de and test.en")
    args = ap.parse_args()
    every = list(pairs(args.source))
    chosen = every[::max(1, len(every) // args.n)][:args.n]
    parts = {args.prefix: chosen[:len(chosen) - args.test]}
    if args.test:
        parts[args.prefix.with_name("test")] = chosen[len(chosen) - args.test:]
    for prefix, part in parts.items():
        for k, lang in enumerate(("de", "en")):
            prefix.with_suffix(f".{lang}").write_text("".join(p[k] + "\n" for p in part), encoding="utf-8")
        print(f"{len(part)} pairs -> {prefix}.de, {prefix}.en")


if __name__ == "__main__":
    main()
