"""DVC never serves a stale result: every stage of dvc.yaml depends on every module of the package it runs
(derived here from the code: the stage's module and everything it imports from the package, directly or
through other modules) and on every params key it reads (recorded by the stages themselves in the shared ci run,
params.RECORD_PARAMS_ENV). A new import or a new key read without its dependency fails here, not in a user's
stale result."""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
import yaml
from helpers import REPO

from regurgitative.params import ReadRecorder

PACKAGE = "regurgitative"
SOURCES = REPO / "src" / PACKAGE
STAGE_CMD = re.compile(rf"python -m {PACKAGE}\.([\w.]+)")

# Modules that stages run without depending on them, each with the reason a change there cannot change an output.
NOT_DEPENDENCIES = {
    "validation": "it only accepts or refuses params.yaml (load_params runs it before a stage writes anything): "
                  "a stage that ran under the old checks computes the same outputs under the new ones, so "
                  "rewording a message or adding a check reruns nothing",
}

# The study's steps in the order its data flows (docs/layout.md). A module imports the package's library (its
# top-level modules: paths, params, text, scoring, cleaning, ...) and earlier steps, never a later one. students/
# comes before generators/: the shared vocabulary is learned first, and the fairseq teachers use the students' code.
STEPS = ["data", "students", "generators", "mitigations", "analysis", "finetune", "recursion", "report"]


def source(module: str) -> Path:
    """students.fairseq -> src/regurgitative/students/fairseq.py"""
    return SOURCES / f"{module.replace('.', '/')}.py"


def imported_modules(module: str) -> set[str]:
    """The package's modules that `module` imports anywhere in its code (lazy imports inside functions too), as
    dotted names below the package (`students.fairseq`)."""
    tree = ast.parse(source(module).read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{source(module)}:{node.lineno}: a relative import; the package imports absolutely"
            parts = (node.module or "").split(".")
            if parts[0] != PACKAGE:
                continue
            base = ".".join(parts[1:])
            for alias in node.names:  # from regurgitative.students import fairseq: a module; else a name in `base`
                name = f"{base}.{alias.name}" if base else alias.name
                found.add(name if source(name).exists() else base)
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".", 1)[1] for a in node.names if a.name.startswith(f"{PACKAGE}."))
    return {m for m in found if m and source(m).exists()}


def modules_run_by(module: str) -> set[str]:
    """`module` and every package module it imports, transitively."""
    seen, todo = set(), [module]
    while todo:
        m = todo.pop()
        if m not in seen and m not in NOT_DEPENDENCIES:
            seen.add(m)
            todo += imported_modules(m)
    return seen


def stages() -> dict[str, dict]:
    return yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]


def module_deps() -> dict[str, tuple[list[str], list[str]]]:
    """Per stage: the package modules it runs and does not depend on, and those it depends on and does not run
    (a needless rerun whenever they change)."""
    wrong = {}
    for name, stage in stages().items():
        match = STAGE_CMD.search(stage["cmd"])
        assert match, f"dvc.yaml: stage {name} does not run `python -m {PACKAGE}.<module>`: {stage['cmd']}"
        needed = {str(source(m).relative_to(REPO)) for m in modules_run_by(match.group(1))}
        declared = {d if isinstance(d, str) else next(iter(d)) for d in stage.get("deps", [])}
        declared = {d for d in declared if d.startswith(f"src/{PACKAGE}/")}
        if needed != declared:
            wrong[name] = (sorted(needed - declared), sorted(declared - needed))
    return wrong


@pytest.mark.unit
def test_the_import_graph_is_read_from_the_code():
    # Guards the checker itself: a direct import, an import through another module, and a lazy one.
    assert {"params", "paths", "scoring", "text", "cleaning", "generators.llm", "generators.llama_server",
            "generators.response_cache"} <= modules_run_by("generators.generate")
    assert "generators.generate" not in modules_run_by("scoring")
    assert "validation" in imported_modules("params") and "validation" not in modules_run_by("generators.generate")


@pytest.mark.unit
def test_no_import_runs_from_an_earlier_step_to_a_later_one():
    """Shared primitives (text, scoring, cleaning) live below every step, so that generating or training never
    runs analysis code; the library's top-level modules import no step at all."""
    modules = [str(p.relative_to(SOURCES).with_suffix("")).replace("/", ".") for p in SOURCES.rglob("*.py")]
    modules = [m for m in modules if not m.endswith("__init__")]
    step = {m: STEPS.index(m.split(".")[0]) if "." in m else -1 for m in modules}
    assert set(m.split(".")[0] for m in modules if "." in m) == set(STEPS), "a subpackage missing from STEPS"
    wrong = {m: sorted(i for i in imported_modules(m) if step.get(i, -1) > step[m] or step[m] == -1 and step.get(i, -1) >= 0)
             for m in modules}
    wrong = {m: found for m, found in wrong.items() if found}
    assert not wrong, "imports against the data flow (move what they share into a top-level library module):\n" + \
        "\n".join(f"  {m}: {', '.join(found)}" for m, found in wrong.items())


@pytest.mark.unit
def test_every_stage_depends_on_exactly_the_modules_it_runs():
    wrong = module_deps()
    assert not wrong, "dvc.yaml: stages whose deps are not the package modules they run:\n" + "\n".join(
        f"  {stage}: missing {', '.join(missing) or '-'}; not run {', '.join(extra) or '-'}"
        for stage, (missing, extra) in wrong.items())


def stage_modules() -> dict[str, str]:
    """module -> the first stage that runs it."""
    found = {}
    for name, stage in stages().items():
        found.setdefault(STAGE_CMD.search(stage["cmd"]).group(1), name)
    return found


@pytest.mark.unit
def test_stage_modules_import_library_modules_only():
    """The layout the study's data flow reads from: a stage's module imports the library (paths, parsers, scoring,
    statistics), never another stage's module, so that changing one stage's code reruns that stage and its
    consumers only through their data."""
    run = stage_modules()
    assert "students.train" in run and "students.fairseq" not in run  # guards the checker
    wrong = {m: sorted(set(imported_modules(m)) & set(run) - {m}) for m in run}
    wrong = {m: found for m, found in wrong.items() if found}
    assert not wrong, "stage modules that import other stages' modules (move what they share into a library " \
        "module):\n" + "\n".join(f"  {m} (stage {run[m]}): {', '.join(found)}" for m, found in wrong.items())


@pytest.mark.unit
def test_subpackages_hold_no_code_of_their_own():
    """A subpackage's __init__.py is a docstring only: a stage's deps list the modules it runs, and an __init__ that
    ran code would be run by every stage below it without being a dependency."""
    for init in SOURCES.rglob("__init__.py"):
        body = ast.parse(init.read_text(encoding="utf-8")).body
        code = [n for n in body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
        assert not code, f"{init.relative_to(REPO)}:{code[0].lineno}: code in a package's __init__.py"


@pytest.mark.unit
def test_the_params_recorder_sees_leaves_sections_and_absent_keys():
    read: set[str] = set()
    params = ReadRecorder({"generate": {"pool_size": 5, "server": {"n_ctx": 1}}, "grid": {"seeds": [1]}}, record=read)
    g = params["generate"]
    assert g["pool_size"] == 5 and dict(g.get("server") or {}) == {"n_ctx": 1} and g.get("flagged") is None
    assert bool(params["grid"])  # emptiness is no read
    assert read == {"generate.pool_size", "generate.server", "generate.server.n_ctx", "generate.flagged"}
    assert covered("generate.server.n_ctx", {"generate.server"}) and not covered("generate.pool", {"generate.pool_size"})


def covered(key: str, declared: set[str]) -> bool:
    """A key read is covered by a declared key that is it or one of its sections."""
    parts = key.split(".")
    return any(".".join(parts[:i]) in declared for i in range(1, len(parts) + 1))


@pytest.mark.e2e
def test_every_stage_declares_every_params_key_it_reads(ci_run):
    """Each stage of the shared ci run recorded the params keys it read; each must be covered by the stage's
    `params` in dvc.lock (what DVC compares to decide whether to rerun it)."""
    records = sorted((ci_run / "logs" / "params-read").glob("*.json"))
    assert records, f"no params records in {ci_run}/logs/params-read (the ci run sets params.RECORD_PARAMS_ENV)"
    lock = yaml.safe_load((ci_run / "dvc.lock").read_text(encoding="utf-8"))["stages"]
    by_cmd = {stage["cmd"]: name for name, stage in lock.items()}
    undeclared, unmatched = {}, []
    for path in records:
        record = json.loads(path.read_text())
        name = by_cmd.get(record["cmd"])
        if name is None:
            unmatched.append(record["cmd"])
            continue
        declared = set((lock[name].get("params") or {}).get("params.yaml", {}))
        keys = [k for k in record["read"] if not covered(k, declared)]
        if keys:
            undeclared[name] = keys
    assert not unmatched, f"commands that are no stage of dvc.lock: {unmatched}"
    assert not undeclared, "dvc.yaml: stages read params keys they do not declare (add them to `params`):\n" + \
        "\n".join(f"  {stage}: {', '.join(keys)}" for stage, keys in undeclared.items())
