"""The ci run's slice (tests/ci_run.py's E1_SLICE: E1's two students at 100 pairs and all they need) from an
empty DVC cache: a serial `dvc repro` against the Slurm executor on a one-node cluster of this machine, every stage
at one thread (the ci profile's) and one core per job, so that two jobs run side by side on two cores. Measures and prints; asserts nothing but
that both record the same outputs. Needs root (the one-node Slurm of tests/slurm_cluster.py).

    python benchmarks/bench_slurm_slice.py [--threads 1]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from ci_run import E1_SLICE, GIT, copy_worktree, environment, run  # noqa: E402
from slurm_cluster import slurm  # noqa: E402


def workspace(root: Path, threads: int) -> Path:
    copy_worktree(root)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["train"]["threads"] = threads
    params["generate"]["server"]["n_threads"] = threads
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run([*GIT, "commit", "-qam", f"{threads} threads"], root)
    return root


def outs(root: Path) -> dict:
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]
    return {n: [o for o in s["outs"] if not o["path"].startswith("results/generators/")] for n, s in lock.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1, help="threads per stage, and cores per Slurm job")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        serial = workspace(tmp / "serial", a.threads)
        start = time.perf_counter()
        run([sys.executable, "-m", "dvc", "repro", *E1_SLICE], serial)
        serial_s = time.perf_counter() - start

        ws = workspace(tmp / "slurm", a.threads)
        (ws / "cluster.yaml").write_text(yaml.safe_dump({"slurm": {
            "partition": None, "account": None, "default": {"cpus": a.threads, "mem": "1000M", "time": "00:30:00"}}}))
        with slurm(tmp / "cluster") as cluster:
            env = environment(ws, cluster.env())
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "regurgitative.slurm", "--wait", *E1_SLICE], cwd=ws,
                                  env=env, text=True, capture_output=True)
            slurm_s = time.perf_counter() - start
            if proc.returncode != 0:
                raise SystemExit(proc.stdout[-3000:] + proc.stderr[-3000:])
        same = outs(serial) == outs(ws)
        print(f"E1 slice ({len(outs(ws))} stages) at {a.threads} thread(s) per stage, {os.cpu_count()} cores: "
              f"serial dvc repro {serial_s:.0f} s, Slurm ({a.threads} core(s) per job) {slurm_s:.0f} s "
              f"({serial_s / slurm_s:.2f}x); same outputs: {same}")


if __name__ == "__main__":
    main()
