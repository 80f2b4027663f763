"""One ci-profile run per pytest session, shared by the e2e, remote and queue tests (the ci profile costs
minutes of CPU, so it is built once), and the helpers that copy it into fresh clones."""
from __future__ import annotations

import os
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


def build(root: Path) -> Path:
    """A copy of the working tree switched to the ci profile, after `dvc repro`, with the results committed as a
    user would before `dvc push`."""
    copy_worktree(root)
    start = time.perf_counter()
    # Every stage records the params keys it reads (tests/test_dvc_deps.py checks them against dvc.lock).
    env = environment(root, {RECORD_PARAMS_ENV: str(root / "logs" / "params-read")})
    log = root / "logs" / "ci-repro.log"  # every line stamped with its second: where the ci run's minutes go
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out, subprocess.Popen([BIN / "dvc", "repro"], cwd=root, env=env, text=True,
                                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as proc:
        timer = threading.Timer(2400, proc.kill)  # minutes alone; far more on a shared machine
        timer.start()
        for line in proc.stdout:
            out.write(f"{time.perf_counter() - start:8.1f} {line}")
        timer.cancel()
    if proc.returncode != 0:
        raise AssertionError(f"dvc repro failed ({proc.returncode}):\n{log.read_text()[-8000:]}")
    print(f"ci profile: dvc repro took {time.perf_counter() - start:.0f} s")
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
