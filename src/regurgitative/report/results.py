"""The results tables the report stages read (`findings`, `figures`): where each lives, and one reader.

A table that is missing (artefacts pulled in part, results of a run made before its experiment existed) is
named on stderr and left out; so is one made before the learned rule of analysis/verdicts.py (an intervals table
without its floors, chrF and interval kind; a comparisons table without its interval kind), since its `learned`
and outcomes follow the old rule. An E9 or E10 table without columns (no chain, E10 switched off) reads as
empty."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from regurgitative.finetune import runs as finetune_runs
from regurgitative.paths import (BLEU_TABLE, DIVERSITY_TABLE, ERRORS_TABLE, GENERATORS_TABLE, INTERVALS_TABLE,
                                 QUALITY_SUMMARY, SIGNIFICANCE_TABLE)
from regurgitative.recursion import chain

CORE = {"bleu": BLEU_TABLE, "generators": GENERATORS_TABLE, "errors": ERRORS_TABLE, "diversity": DIVERSITY_TABLE,
        "significance": SIGNIFICANCE_TABLE, "intervals": INTERVALS_TABLE, "quality": QUALITY_SUMMARY}
E9 = {"recursion": chain.TABLE, "recursion_intervals": chain.INTERVALS, "recursion_significance": chain.SIGNIFICANCE}
E10 = {"finetune": finetune_runs.TABLE, "finetune_intervals": finetune_runs.INTERVALS,
       "finetune_significance": finetune_runs.SIGNIFICANCE}
FINDINGS_DIR = Path("paper/findings")  # the findings stage: results.tex, findings.tex, findings.md
# The columns the learned rule and the comparisons' interval kinds added (analysis/verdicts.py).
GROUP_COLUMNS = {"chrf", "chrf_ci_low", "chrf_ci_high", "bleu_floor", "chrf_floor", "interval", "learned"}
REQUIRED = {"intervals": GROUP_COLUMNS, "recursion_intervals": GROUP_COLUMNS, "finetune_intervals": GROUP_COLUMNS,
            "significance": {"interval"}, "recursion_significance": {"interval"}, "finetune_significance": {"interval"}}


def read(path: Path) -> pd.DataFrame | dict:
    if path.suffix == ".json":
        return json.loads(path.read_text(encoding="utf-8"))
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def load(stage: str) -> dict[str, pd.DataFrame | dict]:
    """Every results table that exists, by name (CORE, E9, E10); each missing one named, with what `stage`
    skips for want of it."""
    tables = {}
    for name, path in {**CORE, **E9, **E10}.items():
        if not path.exists():
            print(f"{path}: not found, {stage} skips what needs it (`dvc repro` or `make pull` makes it)",
                  file=sys.stderr)
            continue
        table = read(path)
        if isinstance(table, pd.DataFrame) and len(table.columns) and (missing := REQUIRED.get(name, set())
                                                                       - set(table.columns)):
            print(f"{path}: made before the learned rule (no {', '.join(sorted(missing))}), {stage} skips what "
                  f"needs it (`dvc repro` remakes it)", file=sys.stderr)
            continue
        tables[name] = table
    if "bleu" in tables and "experiment" not in tables["bleu"].columns:  # a table from before E5-E8: all E1
        tables["bleu"]["experiment"] = "E1"
    return tables


def experiment(tables: dict, names: dict) -> list[pd.DataFrame] | None:
    """E9's or E10's tables in order (empty when the experiment did not run), or None when one is missing."""
    return [tables[n] for n in names] if set(names) <= set(tables) else None
