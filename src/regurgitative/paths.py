"""Where things live: every path a stage reads or writes, relative to the repository root (DVC runs stages
there), and the names of a student's run. No stage reads params.yaml here (regurgitative.params does that)."""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

# Data flow, in the study's words. Every stage reads and writes only these paths, relative to the repo root
# (DVC runs stages there).
CORPUS_DIR = Path("data/corpus")          # committed raw corpus (embedded default), immutable
DOWNLOADS_DIR = Path("data/downloads")    # network downloads (Europarl), git- and dvc-ignored cache
PREPARED_DIR = Path("data/prepared")      # cleaned and split real corpus: pool, valid, test
TOKENIZER_DIR = Path("data/tokenizer")    # shared SentencePiece model + fairseq dictionary + binarized valid/test
GENERATED_DIR = Path("data/generated")    # per generator: its raw and cleaned translations, flags, prompts
LLM_CACHE_DIR = Path("data/llm-cache")    # per generator: the append-only response cache (persisted)
CONDITIONS_DIR = Path("data/conditions")  # per condition: its ordered training pool, pool.{de,en}
QUALITY_DIR = Path("data/quality")        # per generator: a quality score for every pool sentence (E5)
DATASETS_DIR = Path("data/datasets")      # one fairseq data-bin per (condition, train_size)
MODELS_DIR = Path("models")               # one student per (condition, train_size, seed)
RESULTS_DIR = Path("results")             # metrics (small, in git)
LOGS_DIR = Path("logs")                   # logs of local LLM servers: git-ignored, not an output of any stage
# The results tables the stages write and the figures stage reads (small, in git).
BASELINES = RESULTS_DIR / "baselines.json"         # baseline: copy-the-source and other reference points
BLEU_TABLE = RESULTS_DIR / "bleu.csv"              # aggregate: one row per student
GENERATORS_TABLE = RESULTS_DIR / "generators.csv"  # aggregate: one row per generator (E2)
SUMMARY = RESULTS_DIR / "summary.json"             # aggregate: means over seeds, the fraction of real data
ERRORS_TABLE = RESULTS_DIR / "errors.csv"          # errors (E3)
DIVERSITY_TABLE = RESULTS_DIR / "diversity.csv"    # diversity (E4)
QUALITY_SUMMARY = RESULTS_DIR / "quality.json"     # quality (E5 scores, E7 detector)
SIGNIFICANCE_TABLE = RESULTS_DIR / "significance.csv"  # significance: paired bootstrap between runs
INTERVALS_TABLE = RESULTS_DIR / "intervals.csv"        # significance: each group's BLEU interval, learned or not
FIGURES_DIR = Path("paper/figures")
TABLES_DIR = Path("paper/tables")

LANGS = ("de", "en")
SRC, TGT = LANGS
SPLITS = ("pool", "valid", "test")


def run_name(condition: str, train_size: int, seed: int) -> str:
    return f"{condition}-{train_size}-{seed}"


def condition_pool(condition: str) -> Path:
    """Prefix of a condition's training pool files (`<prefix>.de`, `<prefix>.en`), line-aligned, in the
    condition's order: its training set of size n is the first n lines."""
    return CONDITIONS_DIR / condition / "pool"


def dataset_dir(condition: str, train_size: int) -> Path:
    return DATASETS_DIR / condition / str(train_size)


def run_arguments(description: str | None) -> tuple[str, int, int]:
    """A student's stage arguments (train@, evaluate@ and their mitigation twins): --condition, --train-size and
    --seed, parsed from the command line."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--condition", required=True)
    ap.add_argument("--train-size", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    a = ap.parse_args()
    return a.condition, a.train_size, a.seed


def model_dir(condition: str, train_size: int, seed: int) -> Path:
    return MODELS_DIR / condition / str(train_size) / f"seed{seed}"


def run_metrics(condition: str, train_size: int, seed: int) -> Path:
    return RESULTS_DIR / "runs" / f"{run_name(condition, train_size, seed)}.json"


def eval_dir(condition: str, train_size: int, seed: int) -> Path:
    """A student's test-set translations, with the fairseq-generate command that produced them."""
    return RESULTS_DIR / "eval" / run_name(condition, train_size, seed)


def fresh_dir(path: Path) -> Path:
    """`path` as an empty directory (its parents made): what a stage writes never mixes with an earlier run's."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path
