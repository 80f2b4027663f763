"""How long DVC takes to read this pipeline: `dvc status` in a repository, with ruamel.yaml's C parser (what
`make venv` installs: ruamel.yaml.clib) and with its pure-Python parser (ruamel.yaml 0.19 alone). DVC parses
params.yaml again for every stage whose params it checks, and dvc.yaml and dvc.lock on every command, so the parser
sets the floor of every `dvc status`, `dvc repro` and `dvc pull`. Measures and prints; asserts nothing.

    python benchmarks/bench_dvc_yaml.py [REPO] [--runs 3]

REPO defaults to this checkout; the ci run of a test session (tests/ci_run.py) has 79 stages of its own.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def seconds(repo: Path, env: dict, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "dvc", "status", "-q"], cwd=repo, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)   # its exit status says what changed
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("repo", type=Path, nargs="?", default=REPO)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    if importlib.util.find_spec("_ruamel_yaml") is None:
        raise SystemExit("ruamel.yaml.clib is not installed here: `make venv` installs it")
    stages = subprocess.run([sys.executable, "-m", "dvc", "stage", "list", "--name-only"], cwd=a.repo,
                            capture_output=True, text=True).stdout.split()
    with tempfile.TemporaryDirectory() as shim:
        # A module of that name that fails to import: ruamel.yaml then falls back to its pure-Python parser.
        Path(shim, "_ruamel_yaml.py").write_text("raise ImportError('pure-Python parser, for the benchmark')\n")
        path = os.environ.get("PYTHONPATH", "")
        c = seconds(a.repo, {**os.environ, "PYTHONPATH": path}, a.runs)
        pure = seconds(a.repo, {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [shim, path]))}, a.runs)
    print(f"`dvc status` in {a.repo} ({len(stages)} stages), median of {a.runs}: C parser {statistics.median(c):.2f} s, "
          f"pure-Python parser {statistics.median(pure):.2f} s ({statistics.median(pure) / statistics.median(c):.1f}x)")


if __name__ == "__main__":
    main()
