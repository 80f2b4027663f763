"""Refuse a params.yaml that names what does not exist, before any work starts: load_params runs these checks
for every stage and `make repro` runs `python -m regurgitative.validation` before dvc. They accept or refuse;
they never change what a stage computes, so no stage depends on this module (tests/test_dvc_deps.py says why)
and rewording a message reruns nothing."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from regurgitative.params import PARAMS, ParamsError, load_params

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

def main() -> None:
    """`python -m regurgitative.validation`: check params.yaml (what `make repro` runs before dvc)."""
    try:
        load_params()
    except ParamsError as e:
        sys.exit(str(e))
    print(f"{PARAMS}: the grid is consistent")


if __name__ == "__main__":
    main()
