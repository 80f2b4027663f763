"""Corpus-level scores with sacreBLEU: BLEU and chrF with their signatures, computed exactly as the
`sacrebleu` command line computes them with its defaults."""
from __future__ import annotations

from pathlib import Path

from sacrebleu.metrics import BLEU, CHRF

from regurgitative.text import read_lines


def score(hypotheses: list[str], references: list[str]) -> dict:
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    bleu, chrf = BLEU(), CHRF()
    b = bleu.corpus_score(hypotheses, [references])
    c = chrf.corpus_score(hypotheses, [references])
    return {"bleu": round(b.score, 4), "chrf": round(c.score, 4),
            "bleu_signature": str(bleu.get_signature()), "chrf_signature": str(chrf.get_signature()),
            "bleu_brevity_penalty": round(b.bp, 4), "segments": len(references)}


def score_files(hypotheses: Path, references: Path) -> dict:
    return score(read_lines(hypotheses), read_lines(references))
