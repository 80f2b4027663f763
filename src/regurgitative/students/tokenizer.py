"""Stage `tokenizer`: one SentencePiece model and one fairseq dictionary, learned on the real training pool
only and shared by every condition and size, so conditions differ in their data and nothing else.
Also encodes and binarizes valid and test once, for every dataset to reuse (students/vocabulary.py reads them)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import sentencepiece as spm

from regurgitative.params import load_params, param
from regurgitative.paths import LANGS, PREPARED_DIR, TOKENIZER_DIR, fresh_dir
from regurgitative.students import fairseq
from regurgitative.students.vocabulary import BIN, DICT, SPM_PREFIX, encode_file, load, preprocess


def train_sentencepiece(inputs: list[Path], prefix: Path, vocab_size: int, model_type: str,
                        character_coverage: float) -> None:
    spm.SentencePieceTrainer.train(
        input=[str(p) for p in inputs], model_prefix=str(prefix), vocab_size=vocab_size,
        model_type=model_type, character_coverage=character_coverage,
        # fairseq's Dictionary brings its own <pad>, </s>, <unk>, <s>; spm keeps only <unk>, <s>, </s>.
        pad_id=-1, bos_id=1, eos_id=2, unk_id=0,
        input_sentence_size=0, shuffle_input_sentence=False, num_threads=1,  # deterministic
        minloglevel=2)


def write_fairseq_dictionary(spm_vocab: Path, dict_path: Path) -> int:
    """The fairseq dictionary is the SentencePiece vocabulary itself, so every piece the shared model can
    emit (for generated English too) has an id; the counts are placeholders (fairseq needs a number)."""
    pieces = [line.split("\t")[0] for line in spm_vocab.read_text(encoding="utf-8").splitlines()]
    pieces = [p for p in pieces if p not in ("<unk>", "<s>", "</s>")]
    dict_path.write_text("".join(f"{p} 1\n" for p in pieces), encoding="utf-8")
    return len(pieces)


def main() -> None:
    params = load_params()
    cfg = param(params, "tokenizer")
    fresh_dir(TOKENIZER_DIR)
    train_sentencepiece([PREPARED_DIR / f"pool.{lang}" for lang in LANGS], SPM_PREFIX,
                        vocab_size=int(cfg["vocab_size"]), model_type=cfg["model_type"],
                        character_coverage=float(cfg["character_coverage"]))
    n_pieces = write_fairseq_dictionary(SPM_PREFIX.with_suffix(".vocab"), DICT)

    sp = load()
    encoded = TOKENIZER_DIR / "encoded"
    encoded.mkdir()
    for split in ("valid", "test"):
        for lang in LANGS:
            encode_file(sp, PREPARED_DIR / f"{split}.{lang}", encoded / f"{split}.{lang}")
    cmd = preprocess(BIN, validpref=encoded / "valid", testpref=encoded / "test")
    fairseq.save_command(cmd, TOKENIZER_DIR / "preprocess.sh")
    shutil.rmtree(encoded)
    (TOKENIZER_DIR / "stats.json").write_text(json.dumps({"dictionary_size": n_pieces}, indent=2) + "\n")


if __name__ == "__main__":
    main()
