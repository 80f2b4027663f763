"""Shared by the tests: where the repository and its venv are."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def sacrebleu_cli(references: Path, hypotheses: Path) -> dict[str, float]:
    """BLEU and chrF as the sacrebleu command line reports them (4 decimals)."""
    out = subprocess.run([str(BIN / "sacrebleu"), str(references), "-i", str(hypotheses), "-m", "bleu", "chrf",
                          "-w", "4"], check=True, capture_output=True, text=True).stdout
    return {r["name"]: r["score"] for r in json.loads(out)}
