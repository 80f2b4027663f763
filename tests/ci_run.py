"""One ci-profile run per pytest session, shared by the e2e, remote and queue tests (the ci profile costs
minutes of CPU, so it is built once), and the helpers that copy it into fresh clones."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

from helpers import BIN, REPO

from regurgitative.params import RECORD_PARAMS_ENV

GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@localhost", "-c", "init.defaultBranch=main"]


def environment(cwd: Path, env: dict | None = None) -> dict:
    """The venv on PATH and the copy's own sources importable."""
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(cwd / "src"),
            **(env or {})}


def run(cmd: list, cwd: Path, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    """Run a command in `environment`; fail with its output."""
    proc = subprocess.run(cmd, cwd=cwd, env=environment(cwd, env), text=True, capture_output=True, **kw)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


def copy_worktree(root: Path, profile: str = "ci") -> Path:
    """A copy of the working tree (what git would commit), without the outputs the pipeline makes, switched to
    a profile and committed in a git repository of its own."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, files):
        src = REPO / name
        if src.is_file():  # skip files deleted in the working tree
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, root / name)
    for tracked_output in ("results", "paper/figures", "paper/tables", "paper/findings"):  # start from nothing the pipeline makes
        shutil.rmtree(root / tracked_output, ignore_errors=True)
    # Nor the committed run's dvc.lock: its entries describe outputs the copy does not have, so every stage runs
    # anyway, and DVC parses and rewrites the whole lock file around every stage it runs: with the default's
    # entries that cost about 5 s a stage on 2 cores (benchmarks/bench_lockfile.py).
    (root / "dvc.lock").unlink(missing_ok=True)
    run([*GIT, "init", "-q"], root)
    run([BIN / "python", "-m", "regurgitative.profile", profile], root)
    run([*GIT, "add", "-A"], root)
    run([*GIT, "commit", "-q", "-m", f"{profile} profile"], root)
    return root


# E1's two students of the ci profile at 100 pairs (seed 1) and everything they need: the corpus, the tokenizer,
# SmolLM2 translating through its llama.cpp server, the datasets. The ci run makes them first with a serial `dvc
# repro`, which is what tests/test_slurm.py runs again as Slurm jobs from an empty cache and compares with.
E1_SLICE = [f"evaluate@{c}-100-1" for c in ("real", "smollm2-135m")]


def build(root: Path) -> Path:
    """A copy of the working tree switched to the ci profile, after the pipeline ran, with the results committed as
    a user would before `dvc push`. The pipeline runs as `make repro` runs it (the scheduler, two one-thread
    stages at a time, then a plain `dvc repro` that must find nothing left), after a serial `dvc repro` of
    E1_SLICE."""
    copy_worktree(root)
    start = time.perf_counter()
    # Every stage records the params keys it reads (tests/test_dvc_deps.py checks them against dvc.lock).
    env = environment(root, {RECORD_PARAMS_ENV: str(root / "logs" / "params-read")})
    log = root / "logs" / "ci-repro.log"  # every line stamped with its second: where the ci run's minutes go
    log.parent.mkdir(parents=True, exist_ok=True)
    steps = [[BIN / "dvc", "repro", *E1_SLICE],
             [BIN / "python", "-m", "regurgitative.scheduler", "--jobs", "2"],
             [BIN / "dvc", "repro"]]
    with log.open("w") as out:
        for cmd in steps:
            out.write(f"{time.perf_counter() - start:8.1f} $ {' '.join([Path(cmd[0]).name, *map(str, cmd[1:])])}\n")
            out.flush()
            with subprocess.Popen(cmd, cwd=root, env=env, text=True, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT) as proc:
                timer = threading.Timer(2400, proc.kill)  # minutes alone; far more on a shared machine
                timer.start()
                for line in proc.stdout:
                    out.write(f"{time.perf_counter() - start:8.1f} {line}")
                    out.flush()   # so that `tail -f` follows the run
                timer.cancel()
            if proc.returncode != 0:
                text = log.read_text()
                # the scheduler's last line names each failed stage's log: their ends say why
                failed = re.findall(r"\(log (logs/stages/\S+?\.log)\)", text[text.rfind("scheduler: failed:"):]
                                    if "scheduler: failed:" in text else "")
                raise AssertionError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{text[-8000:]}"
                                     + "".join(f"\n--- {name}:\n{(root / name).read_text()[-4000:]}"
                                               for name in failed if (root / name).exists()))
    print(f"ci profile: the pipeline took {time.perf_counter() - start:.0f} s")
    # Committed, so that clones get dvc.lock and the tables (later tests may leave the work tree dirty).
    run([*GIT, "add", "-A"], root)
    run([*GIT, "commit", "-q", "-m", "ci run"], root)
    return root


def link_tree(src: Path, dest: Path) -> None:
    """Copy a DVC cache by hard links: DVC never writes into a cached object, so sharing them is safe."""
    shutil.copytree(src, dest, copy_function=os.link)


def clone(source: Path, dest: Path, *, with_cache: bool) -> Path:
    """A git clone of `source`'s last commit: no DVC outputs in the work tree, and either an empty DVC cache
    (a new user) or `source`'s cache, hard-linked (the machine that ran the pipeline)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    run([*GIT, "clone", "-q", str(source), str(dest)], dest.parent)
    if with_cache:
        link_tree(source / ".dvc/cache", dest / ".dvc/cache")
    return dest
