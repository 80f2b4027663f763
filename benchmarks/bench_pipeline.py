"""Benchmark: how long the pipeline takes on this machine. Measures and prints; asserts nothing.

    python benchmarks/bench_pipeline.py                        # ci profile, in a copy of the working tree
    python benchmarks/bench_pipeline.py --profiles ci default  # both (default: about half an hour)
    python benchmarks/bench_pipeline.py --fresh-clone          # git clone + `make venv` + `make repro`, as a new user

For each profile: wall time of `dvc repro` from nothing, of a second (no-op) `dvc repro`, and the BLEU table.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "-c", "init.defaultBranch=main"]


def sh(cmd: list[str], cwd: Path, env: dict | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, text=True, capture_output=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return time.perf_counter() - start


def copy_worktree(dest: Path) -> None:
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    sh([*GIT, "init", "-q"], dest)
    sh([*GIT, "add", "-A"], dest)
    sh([*GIT, "commit", "-q", "-m", "bench"], dest)


def train_seconds(repo: Path, row) -> float:
    """A student's fairseq-train wall time, from the train stage's logs/times record (times are no results)."""
    path = repo / "logs/times" / f"train@{row.condition}-{int(row.train_size)}-{int(row.seed)}.json"
    return json.loads(path.read_text())["train_seconds"] if path.exists() else float("nan")


def bleu_table(repo: Path) -> str:
    table = pd.read_csv(repo / "results/bleu.csv")
    students = table[table.kind == "student"].copy()
    students["train_seconds"] = [train_seconds(repo, r) for r in students.itertuples()]
    summary = students.groupby(["condition", "train_size"]).agg(
        bleu_mean=("bleu", "mean"), bleu_min=("bleu", "min"), bleu_max=("bleu", "max"), chrf_mean=("chrf", "mean"),
        seeds=("seed", "nunique"), train_s_mean=("train_seconds", "mean")).round(2)
    baselines = table[table.kind == "baseline"][["condition", "bleu", "chrf"]].round(2)
    return summary.to_string() + "\n\nbaselines:\n" + baselines.to_string(index=False)


def bench(profile: str, fresh_clone: bool, keep: bool) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-{profile}-"))
    repo = tmp / "repo"
    result: dict = {"profile": profile}
    env = dict(os.environ)
    if fresh_clone:
        sh(["git", "clone", "-q", str(REPO), str(repo)], tmp)
        result["make_venv_s"] = round(sh(["make", "venv"], repo), 1)
        result["make_repro_s"] = round(sh(["make", "repro", f"PROFILE={profile}"], repo), 1)
        env["PATH"] = f"{repo / '.venv/bin'}{os.pathsep}{env['PATH']}"
    else:
        repo.mkdir()
        copy_worktree(repo)
        env["PATH"] = f"{VENV_BIN}{os.pathsep}{env['PATH']}"
        env["PYTHONPATH"] = str(repo / "src")
        sh([VENV_BIN / "python", "-m", "regurgitative.profile", profile], repo, env)
        result["dvc_repro_s"] = round(sh(["dvc", "repro"], repo, env), 1)
    result["noop_dvc_repro_s"] = round(sh(["dvc", "repro"], repo, env), 2)
    result["bleu"] = bleu_table(repo)
    if keep:
        result["kept_at"] = str(repo)
    else:
        shutil.rmtree(tmp)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profiles", nargs="+", default=["ci"])
    ap.add_argument("--fresh-clone", action="store_true", help="clone HEAD and install a new venv first")
    ap.add_argument("--keep", action="store_true", help="keep the temporary repository")
    a = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
    for profile in a.profiles:
        r = bench(profile, a.fresh_clone, a.keep)
        table = r.pop("bleu")
        print(json.dumps(r))
        print(table, "\n", flush=True)


if __name__ == "__main__":
    main()
