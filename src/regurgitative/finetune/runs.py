"""Where E10's runs live and what they are called (a library: the finetune stages write these paths, the
finetune-compare stage reads them and writes the tables the report reads)."""
from __future__ import annotations

from pathlib import Path

from regurgitative.paths import RESULTS_DIR

RESULTS = RESULTS_DIR / "finetune"            # per run and the base model: test translations and metrics
MODELS = Path("models/finetune")             # per run: the adapter (local) or the fine-tuned model's record
STATE = Path("data/finetune-state")          # per run: an OpenAI job's state and response cache (persisted)
TABLE = RESULTS_DIR / "finetune.csv"                          # finetune-compare: one row per run
INTERVALS = RESULTS_DIR / "finetune-intervals.csv"            # finetune-compare: seeds pooled, per condition and size
SIGNIFICANCE = RESULTS_DIR / "finetune-significance.csv"      # finetune-compare: the comparisons of E10's claims
BASE = "base"                                # the base model before fine-tuning
SHOTS = ("zero-shot", "few-shot")            # its two prompts


def run_name(condition: str, size: int, seed: int) -> str:
    return f"{condition}-{size}-seed{seed}"


def role(base: str, condition: str) -> str:
    """`real`, `self` (the base model's own translations) or `other` (another generator's)."""
    if condition == "real":
        return "real"
    return "self" if condition == base else "other"
