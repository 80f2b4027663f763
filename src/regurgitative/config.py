"""Where things live and what params.yaml says: the one place every stage looks both up."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

PARAMS = Path("params.yaml")

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
FIGURES_DIR = Path("paper/figures")
TABLES_DIR = Path("paper/tables")

LANGS = ("de", "en")
SRC, TGT = LANGS
SPLITS = ("pool", "valid", "test")


class ParamsError(KeyError):
    """A key is missing from params.yaml (or has the wrong type); the message names it."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


def load_params(path: Path | str = PARAMS) -> dict[str, Any]:
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as f:
            params = yaml.safe_load(f)
    except FileNotFoundError:
        raise ParamsError(f"{path}: not found; run from the repository root or choose a profile "
                          f"(`make profile PROFILE=default`)") from None
    if not isinstance(params, dict):
        raise ParamsError(f"{path}: expected a mapping at the top level")
    return params


def param(params: dict[str, Any], dotted: str, path: Path | str = PARAMS) -> Any:
    """params['a']['b'] for dotted='a.b', with an error that names the missing key and the file."""
    node: Any = params
    for i, key in enumerate(dotted.split(".")):
        if not isinstance(node, dict) or key not in node:
            where = ".".join(dotted.split(".")[:i]) or "<top level>"
            raise ParamsError(f"{path}: missing key '{dotted}' (no '{key}' under {where})")
        node = node[key]
    return node


def generator_names(params: dict[str, Any]) -> list[str]:
    """Every generator of the grid: LLMs (stage generate@) and fairseq teachers (stage teacher@)."""
    return [*param(params, "grid.generators"), *(params["grid"].get("teachers") or [])]


def grid_sizes(params: dict[str, Any]) -> dict[str, list[int]]:
    """Every condition the grid trains and its training sizes: grid.conditions at grid.train_sizes (E1), and
    the mitigation conditions (grid.mitigations, built by mitigate@) at grid.mitigation_sizes."""
    sizes = {c: [int(n) for n in param(params, "grid.train_sizes")] for c in param(params, "grid.conditions")}
    for m in params["grid"].get("mitigations") or []:
        sizes[m] = [int(n) for n in param(params, "grid.mitigation_sizes")]
    return sizes


def grid_runs(params: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(condition, train_size, seed) of every student the grid trains."""
    seeds = [int(s) for s in param(params, "grid.seeds")]
    return [(c, n, s) for c, sizes in grid_sizes(params).items() for n in sizes for s in seeds]


def generated_items(generator: str, split: str | None = None) -> list[dict]:
    """What generate@/teacher@ recorded for every sentence a generator translated (items.jsonl), in order, all
    splits or one (pool, test, detector): index, German, request, raw answer, cleaned text, flags, what cleaning
    stripped, mean log-probability."""
    path = GENERATED_DIR / generator / "items.jsonl"
    with path.open(encoding="utf-8") as f:
        items = [json.loads(line) for line in f]
    return [it for it in items if split is None or it["split"] == split]


def run_name(condition: str, train_size: int, seed: int) -> str:
    return f"{condition}-{train_size}-{seed}"


def condition_pool(condition: str) -> Path:
    """Prefix of a condition's training pool files (`<prefix>.de`, `<prefix>.en`), line-aligned, in the
    condition's order: its training set of size n is the first n lines."""
    return CONDITIONS_DIR / condition / "pool"


def dataset_dir(condition: str, train_size: int) -> Path:
    return DATASETS_DIR / condition / str(train_size)


def model_dir(condition: str, train_size: int, seed: int) -> Path:
    return MODELS_DIR / condition / str(train_size) / f"seed{seed}"


def run_metrics(condition: str, train_size: int, seed: int) -> Path:
    return RESULTS_DIR / "runs" / f"{run_name(condition, train_size, seed)}.json"


def eval_dir(condition: str, train_size: int, seed: int) -> Path:
    """A student's test-set translations, with the fairseq-generate command that produced them."""
    return RESULTS_DIR / "eval" / run_name(condition, train_size, seed)
