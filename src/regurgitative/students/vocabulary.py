"""The study's one vocabulary, learned by stage `tokenizer` and shared by every model trained from scratch
(students, teachers, E9's generations), so that conditions differ in their data and nothing else: the
SentencePiece model, the fairseq dictionary, the binarized valid and test sets, and how a pool's pairs become a
fairseq data-bin with them."""
from __future__ import annotations

import shutil
from pathlib import Path

import sentencepiece as spm

from regurgitative.paths import LANGS, SRC, TGT, TOKENIZER_DIR, fresh_dir
from regurgitative.students import fairseq

SPM_PREFIX = TOKENIZER_DIR / "spm"
DICT = TOKENIZER_DIR / "dict.txt"
BIN = TOKENIZER_DIR / "bin"          # binarized valid + test + dictionaries: copied into every dataset


def load(tokenizer_dir: Path = TOKENIZER_DIR) -> spm.SentencePieceProcessor:
    return spm.SentencePieceProcessor(model_file=str(tokenizer_dir / "spm.model"))


def encode_file(sp: spm.SentencePieceProcessor, src: Path, dst: Path, limit: int | None = None,
                start: int = 0) -> int:
    """Encode one sentence per line into space-separated pieces: lines start .. start+limit (all if None)."""
    lines = src.read_text(encoding="utf-8").splitlines()[start:None if limit is None else start + limit]
    pieces = sp.encode(lines, out_type=str)
    dst.write_text("".join(" ".join(p) + "\n" for p in pieces), encoding="utf-8")
    return len(lines)


def preprocess(destdir: Path, *, trainpref: Path | None = None, validpref: Path | None = None,
               testpref: Path | None = None, workers: int = 1) -> list[str]:
    """fairseq-preprocess with the shared dictionary for both languages; returns the command it ran."""
    cmd = ["fairseq-preprocess", "--source-lang", SRC, "--target-lang", TGT,
           "--srcdict", str(DICT), "--tgtdict", str(DICT), "--destdir", str(destdir), "--workers", str(workers)]
    for flag, pref in (("--trainpref", trainpref), ("--validpref", validpref), ("--testpref", testpref)):
        if pref is not None:
            cmd += [flag, str(pref)]
    fairseq.run(cmd)
    return cmd


def binarize(pool: Path, out: Path, start: int, count: int) -> Path:
    """A fairseq data-bin in `out`: lines start .. start+count of `pool`.{de,en} as train, encoded with the
    shared SentencePiece model and binarized with the shared dictionary, next to the shared valid and test."""
    fresh_dir(out)
    sp = load()
    encoded = out / "encoded"
    encoded.mkdir()
    for lang in LANGS:
        encode_file(sp, pool.with_suffix(f".{lang}"), encoded / f"train.{lang}", limit=count, start=start)
    cmd = preprocess(out, trainpref=encoded / "train")
    fairseq.save_command(cmd, out / "preprocess.sh")
    shutil.rmtree(encoded)
    # fairseq-train wants train and valid in one directory; test rides along for fairseq-generate.
    for f in BIN.iterdir():
        if f.name.startswith(("valid.", "test.")):
            shutil.copy2(f, out / f.name)
    return out
