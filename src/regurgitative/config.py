"""Where things live and what params.yaml says: the one place every stage looks both up."""
from __future__ import annotations

import argparse
import atexit
import hashlib
import json
import os
import shutil
import sys
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


class ParamsError(KeyError):
    """A key is missing from params.yaml (or has the wrong type); the message names it."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


# When this environment variable names a directory, every stage records which params keys it read there (one JSON
# file per command line), so that a test can check them against the stage's `params` in dvc.yaml
# (tests/test_dvc_deps.py): DVC reruns a stage only when a key it declares changes.
RECORD_PARAMS_ENV = "REGURGITATIVE_RECORD_PARAMS"


class ReadRecorder(dict):
    """A params mapping that records the dotted path of every key read: a leaf when its value is read, a whole
    section when it is iterated or copied. A key asked for and missing is recorded too (its absence is read).
    Emptiness (`len`, `bool`) is not recorded as a read of the section."""

    def __init__(self, data: dict, prefix: str = "", record: set[str] | None = None):
        super().__init__(data)
        self._prefix = prefix
        self._record = record if record is not None else set()

    def _child(self, key: Any, value: Any) -> Any:
        if isinstance(value, dict):
            return ReadRecorder(value, f"{self._prefix}{key}.", self._record)
        self._record.add(f"{self._prefix}{key}")
        return value

    def _all(self) -> None:
        self._record.add(self._prefix.rstrip(".") or "<all>")

    def __getitem__(self, key: Any) -> Any:
        if not dict.__contains__(self, key):
            self._record.add(f"{self._prefix}{key}")
        return self._child(key, dict.__getitem__(self, key))

    def get(self, key: Any, default: Any = None) -> Any:
        return self[key] if dict.__contains__(self, key) else (self._record.add(f"{self._prefix}{key}") or default)

    def __contains__(self, key: object) -> bool:
        present = dict.__contains__(self, key)
        if not (present and isinstance(dict.__getitem__(self, key), dict)):  # a section's presence reads nothing in it
            self._record.add(f"{self._prefix}{key}")
        return present

    def __iter__(self):
        self._all()
        return dict.__iter__(self)

    def keys(self):
        self._all()
        return dict.keys(self)

    def items(self):
        self._all()
        return dict.items(self)

    def values(self):
        self._all()
        return dict.values(self)

    def __reduce__(self):  # copy/deepcopy/pickle: a plain dict (the copy reads everything)
        self._all()
        return dict, (dict(dict.items(self)),)


_PARAMS_READ: set[str] = set()  # what this process read, from every load_params()


def _record_params_read(record: set[str]) -> None:
    import __main__
    spec = getattr(__main__, "__spec__", None)
    command = " ".join(["python", "-m", spec.name if spec else Path(sys.argv[0]).name, *sys.argv[1:]])
    out = Path(os.environ[RECORD_PARAMS_ENV])
    out.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(command.encode()).hexdigest()[:16]
    (out / f"{name}.json").write_text(json.dumps({"cmd": command, "read": sorted(record)}, indent=1) + "\n")


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
    check_grid(params, path)
    check_decoding(params, path)
    if os.environ.get(RECORD_PARAMS_ENV):
        if not getattr(_record_params_read, "registered", False):
            atexit.register(_record_params_read, _PARAMS_READ)
            _record_params_read.registered = True
        params = ReadRecorder(params, record=_PARAMS_READ)
    return params


GENERATOR_KINDS = {"llama_cpp": "grid.generators", "openai": "grid.generators", "fairseq": "grid.teachers"}
MITIGATION_METHODS = {"order": ("generator", "score"), "mix": ("generators",), "share": ("generator", "share")}
ORDER_SCORES = ("agreement", "confidence", "detector", "oracle")


def check_grid(params: dict[str, Any], path: Path | str = PARAMS) -> None:
    """Refuse a grid that names what does not exist, before any work starts (load_params runs this for every
    stage; `make repro` runs it before dvc): every condition is `real`, a generator of grid.generators (an LLM)
    or grid.teachers (a fairseq teacher); every generator and mitigation has its recipe, of a known kind; every
    mitigation draws on generators of the grid; no training size exceeds what the generators translate. The
    message names the key and the fix."""
    grid = params.get("grid")
    if not isinstance(grid, dict):
        return
    generators = params.get("generators") or {}
    recipes = params.get("mitigations") or {}
    problems = []
    named = {}
    for key in ("generators", "teachers"):
        for g in grid.get(key) or []:
            named[g] = key
            cfg = generators.get(g)
            if not isinstance(cfg, dict):
                problems.append(f"grid.{key} names {g!r}, which is not under `generators` (known: "
                                f"{', '.join(generators) or 'none'}); add its recipe there or remove it")
            elif GENERATOR_KINDS.get(cfg.get("kind")) != f"grid.{key}":
                kind = cfg.get("kind")
                where = GENERATOR_KINDS.get(kind)
                problems.append(f"grid.{key} names {g!r}, whose generators.{g}.kind is {kind!r}: "
                                + (f"name it in {where} instead" if where else
                                   f"kind must be one of {', '.join(GENERATOR_KINDS)}"))
            elif cfg.get("kind") != "fairseq" and cfg.get("prompt") not in (params.get("prompts") or {}):
                problems.append(f"generators.{g}.prompt is {cfg.get('prompt')!r}, which is not under `prompts`")
    for c in grid.get("conditions") or []:
        if c != "real" and c not in named:
            hint = ("it is a mitigation: name it in grid.mitigations (trained at grid.mitigation_sizes)"
                    if c in recipes else
                    "add it to grid.generators (an LLM) or grid.teachers (a fairseq teacher) with a recipe under "
                    "`generators`" if c in generators else
                    f"conditions are `real`, a generator of grid.generators ({', '.join(grid.get('generators') or []) or 'none'}) "
                    f"or of grid.teachers ({', '.join(grid.get('teachers') or []) or 'none'})")
            problems.append(f"grid.conditions names {c!r}, which no stage builds; {hint}")
    for m in grid.get("mitigations") or []:
        recipe = recipes.get(m)
        if not isinstance(recipe, dict):
            problems.append(f"grid.mitigations names {m!r}, which is not under `mitigations` (known: "
                            f"{', '.join(recipes) or 'none'})")
            continue
        method = recipe.get("method")
        if method not in MITIGATION_METHODS:
            problems.append(f"mitigations.{m}.method is {method!r}; it must be one of {', '.join(MITIGATION_METHODS)}")
            continue
        for key in MITIGATION_METHODS[method]:
            if key not in recipe:
                problems.append(f"mitigations.{m}.{key} is missing (method {method} needs "
                                f"{', '.join(MITIGATION_METHODS[method])})")
        sources = recipe.get("generators") or [] if method == "mix" else [recipe.get("generator")]
        for g in sources:
            if g is not None and g not in named:
                problems.append(f"mitigations.{m} draws on generator {g!r}, which is in neither grid.generators nor "
                                f"grid.teachers; add it there (or drop {m!r} from grid.mitigations)")
        if method == "order" and recipe.get("score") == "detector" and \
                not int((params.get("generate") or {}).get("detector_size") or 0):
            problems.append(f"mitigations.{m} orders by the detector, but generate.detector_size is 0 (no detector "
                            f"split); set it (the study profile uses 500) or drop {m!r} from grid.mitigations")
        if method == "order" and recipe.get("score") not in ORDER_SCORES:
            problems.append(f"mitigations.{m}.score is {recipe.get('score')!r}; it must be one of "
                            f"{', '.join(ORDER_SCORES)}")
        if method == "share" and not 0 <= float(recipe.get("share", 0)) <= 1:
            problems.append(f"mitigations.{m}.share is {recipe['share']}; it must lie between 0 and 1")
    pool = (params.get("generate") or {}).get("pool_size")
    for key in ("train_sizes", "mitigation_sizes"):
        sizes = grid.get(key) or []
        bad = [n for n in sizes if not isinstance(n, int) or n <= 0]
        if bad:
            problems.append(f"grid.{key} holds {bad}: training sizes are positive whole numbers")
        uses_generated = key == "mitigation_sizes" and grid.get("mitigations") or \
            key == "train_sizes" and any(c != "real" for c in grid.get("conditions") or [])
        if uses_generated and pool is not None and not bad and sizes and max(sizes) > int(pool):
            problems.append(f"grid.{key} goes up to {max(sizes)}, but the generators translate generate.pool_size = "
                            f"{pool} pool sentences; raise generate.pool_size (only the missing sentences are "
                            f"translated) or lower the size")
    generators = params.get("generators") or {}
    for g in named:
        own = (generators.get(g) or {}).get("pool_size")
        if own is None or pool is None:
            continue
        if not isinstance(own, int) or not 0 < own <= int(pool):
            problems.append(f"generators.{g}.pool_size is {own!r}; it must be a whole number from 1 to "
                            f"generate.pool_size ({pool}): a generator translates a prefix of the students' pool")
            continue
        trained = [n for n in grid.get("train_sizes") or [] if g in (grid.get("conditions") or [])]
        trained += [n for n in (params.get("finetune") or {}).get("sizes") or []
                    if g in ((params.get("finetune") or {}).get("conditions") or [])]
        for m in grid.get("mitigations") or []:
            recipe = (params.get("mitigations") or {}).get(m) or {}
            if g in (recipe.get("generators") or []) or g == recipe.get("generator"):
                trained += list(grid.get("mitigation_sizes") or [])
        if trained and max(trained) > own:
            problems.append(f"generators.{g}.pool_size is {own}, but {g} trains at up to {max(trained)} pairs "
                            f"(grid.train_sizes or finetune.sizes); raise it or drop {g} from those conditions")
    if problems:
        raise ParamsError(f"{path}: " + ("\n  ".join(["the grid names what does not exist:", *problems])
                                         if len(problems) > 1 else problems[0]))


LLAMA_CPP_ONLY_DECODING = ("repeat_penalty",)  # llama-cpp-python's server takes it; OpenAI's API refuses it


def check_decoding(params: dict[str, Any], path: Path | str = PARAMS) -> None:
    """A decoding field only llama.cpp's server knows (repeat_penalty) is refused for any other kind of
    generator, with the key named: OpenAI's API rejects a request that carries an unknown field."""
    generators = params.get("generators")
    for name, cfg in (generators.items() if isinstance(generators, dict) else []):
        decoding = cfg.get("decoding") if isinstance(cfg, dict) else None
        for key in LLAMA_CPP_ONLY_DECODING:
            if isinstance(decoding, dict) and key in decoding and cfg.get("kind") != "llama_cpp":
                raise ParamsError(f"{path}: generators.{name}.decoding.{key} is for llama_cpp generators only "
                                  f"(llama-cpp-python's server); {name!r} is of kind {cfg.get('kind')!r}, whose "
                                  f"endpoint refuses unknown fields: remove the key")


def param(params: dict[str, Any], dotted: str, path: Path | str = PARAMS) -> Any:
    """params['a']['b'] for dotted='a.b', with an error that names the missing key and the file."""
    node: Any = params
    for i, key in enumerate(dotted.split(".")):
        if not isinstance(node, dict) or key not in node:
            where = ".".join(dotted.split(".")[:i]) or "<top level>"
            raise ParamsError(f"{path}: missing key '{dotted}' (no '{key}' under {where})")
        node = node[key]
    return node


def main() -> None:
    """`python -m regurgitative.config`: check params.yaml (what `make repro` runs before dvc)."""
    try:
        load_params()
    except ParamsError as e:
        sys.exit(str(e))
    print(f"{PARAMS}: the grid is consistent")


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


def describe(params: dict, condition: str) -> dict:
    """What a condition is, in the study's terms: its experiment (E1: real and the generators; E5: ordered by a
    quality score; E6: a mix of generators; E7: ordered by the detector; E8: a share of generated data), the
    generator(s) its English comes from, the score that orders it, and its share of generated English."""
    if condition not in (params["grid"].get("mitigations") or []):
        return {"experiment": "E1", "generator": None if condition == "real" else condition,
                "score": None, "generated_share": 0.0 if condition == "real" else 1.0}
    recipe = params["mitigations"][condition]
    if recipe["method"] == "order":
        return {"experiment": "E7" if recipe["score"] == "detector" else "E5", "generator": recipe["generator"],
                "score": recipe["score"], "generated_share": 1.0}
    if recipe["method"] == "mix":
        return {"experiment": "E6", "generator": "+".join(recipe["generators"]), "score": None,
                "generated_share": 1.0}
    return {"experiment": "E8", "generator": recipe["generator"], "score": None,
            "generated_share": float(recipe["share"])}


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


if __name__ == "__main__":
    main()


def fresh_dir(path: Path) -> Path:
    """`path` as an empty directory (its parents made): what a stage writes never mixes with an earlier run's."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path
