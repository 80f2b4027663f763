"""The pipeline's stages as Slurm jobs: the scheduler's plan (regurgitative/scheduler.py), one job per stage,
started by Slurm when its upstream jobs succeed (`--dependency=afterok`, `--kill-on-invalid-dep=yes`, so that the
dependants of a failed job are cancelled instead of waiting forever).

    python -m regurgitative.slurm [--cluster cluster.yaml] [--wait] [stage ...]   # submit (and wait, then gather)
    python -m regurgitative.slurm --gather                                        # wait for the last submission

Every job runs `dvc --wait-for-lock repro --single-item <stage>` in this workspace, which must lie on a filesystem
every node mounts (with its DVC cache): DVC takes its lock only to read and record, so jobs run side by side and
each records its stage in the one dvc.lock. A second checkout per job would need the outputs back through DVC's
run cache, which cannot restore `persist: true` stages (generate@, finetune@); one shared workspace needs nothing
back. The gather waits for the jobs, names each failed stage with its log and the stages that never started, and
checks that dvc.lock now records every planned stage. Running the same command again submits only what did not
finish: a stage dvc.lock records is not in the plan.

What each stage kind asks for (CPUs, memory, time, GPUs, partition, account) comes from cluster.yaml, not from
code; GPUs only where params.yaml's train.device is not cpu (docs/cluster.md).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from regurgitative import scheduler
from regurgitative.params import PARAMS

CLUSTER = Path("cluster.yaml")
JOB_DIR = Path("logs/slurm")                 # job scripts and the last submission (git-ignored)
SUBMITTED = JOB_DIR / "submitted.json"
FINISHED_OK = "COMPLETED"


class ClusterError(RuntimeError):
    pass


def load_cluster(path: Path = CLUSTER) -> dict:
    try:
        cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ClusterError(f"{path}: not found (the resources of each stage kind; docs/cluster.md)") from None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("slurm"), dict):
        raise ClusterError(f"{path}: expected a mapping with a `slurm` section")
    slurm = cfg["slurm"]
    for key in ("default",):
        if not isinstance(slurm.get(key), dict):
            raise ClusterError(f"{path}: missing slurm.{key} (cpus, mem, time)")
    return slurm


def read_params() -> dict:
    """params.yaml as it stands (the jobs' own stages validate it; a workspace without one asks for no GPU)."""
    return yaml.safe_load(PARAMS.read_text(encoding="utf-8")) if PARAMS.exists() else {}


def uses_gpu(params: dict) -> bool:
    """The GPU profiles train on CUDA (train.device cuda or auto); on cpu no stage asks for a GPU."""
    return str((params.get("train") or {}).get("device", "cpu")) != "cpu"


def resources(kind: str, slurm: dict, gpu: bool) -> list[str]:
    """The sbatch options of one stage kind: its own entry under slurm.kinds over slurm.default."""
    r = {**slurm["default"], **((slurm.get("kinds") or {}).get(kind) or {})}
    opts = [f"--cpus-per-task={int(r['cpus'])}", f"--mem={r['mem']}", f"--time={r['time']}"]
    gpus = int(r.get("gpus") or 0) if gpu else 0
    partition = (slurm.get("gpu_partition") if gpus else None) or slurm.get("partition")
    if partition:
        opts.append(f"--partition={partition}")
    if slurm.get("account"):
        opts.append(f"--account={slurm['account']}")
    if gpus:
        opts.append(f"--gres=gpu:{gpus}")
    return opts


def job_script(stage: scheduler.Stage, slurm: dict, gpu: bool, workspace: Path) -> str:
    lines = ["#!/bin/bash", f"#SBATCH --job-name={stage.name}",
             f"#SBATCH --output={(workspace / scheduler.log_path(stage.name)).resolve()}",
             f"#SBATCH --chdir={workspace.resolve()}",
             *(f"#SBATCH {o}" for o in resources(stage.kind, slurm, gpu)),
             # stages call `python` and fairseq-*: this environment's, as `make repro` sets PATH
             f"export PATH={Path(sys.executable).parent}:$PATH",
             "exec " + " ".join(f"'{a}'" for a in scheduler.stage_command(stage.name)), ""]
    return "\n".join(lines)


def preflight(workspace: Path) -> None:
    """What must hold before anything is submitted: Slurm's client, and a DVC cache the jobs can write."""
    if not shutil.which("sbatch"):
        raise ClusterError("sbatch is not on PATH: run this on a Slurm login node (or install slurm-client)")
    out = subprocess.run([sys.executable, "-m", "dvc", "cache", "dir"], cwd=workspace, capture_output=True,
                         text=True)
    cache = Path(out.stdout.strip()) if out.returncode == 0 else None
    if cache is not None and cache.resolve() == (workspace / ".dvc" / "cache").resolve():
        cache.mkdir(exist_ok=True)   # the workspace's own cache, which DVC makes on first use
    if cache is None or not cache.is_dir() or not os.access(cache, os.W_OK):
        raise ClusterError(f"the DVC cache {cache or '(dvc cache dir failed: ' + out.stderr.strip() + ')'} is "
                           f"missing or not writable: every job stores its outputs there (create it, or point "
                           f"`dvc cache dir` at a directory on the shared filesystem)")


def submit(stages: list[scheduler.Stage], slurm: dict, gpu: bool, workspace: Path = Path(".")) -> dict[str, str]:
    """sbatch every planned stage, upstream first; returns stage -> job id (also in logs/slurm/submitted.json)."""
    JOB_DIR.mkdir(parents=True, exist_ok=True)
    scheduler.LOG_DIR.mkdir(parents=True, exist_ok=True)
    jobs: dict[str, str] = {}
    for s in stages:
        script = JOB_DIR / f"{s.name}.sh"
        script.write_text(job_script(s, slurm, gpu, workspace), encoding="utf-8")
        scheduler.log_path(s.name).unlink(missing_ok=True)   # a log appears only when this job starts
        deps = [jobs[u] for u in s.upstream]
        cmd = ["sbatch", "--parsable", "--kill-on-invalid-dep=yes",
               *([f"--dependency=afterok:{':'.join(deps)}"] if deps else []), str(script)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            raise ClusterError(f"sbatch refused {s.name}: {out.stderr.strip()} (script {script})")
        jobs[s.name] = out.stdout.strip().split(";")[0]
        print(f"slurm: {s.name} -> job {jobs[s.name]}", flush=True)
    SUBMITTED.write_text(json.dumps(jobs, indent=1) + "\n", encoding="utf-8")
    return jobs


def job_state(job: str) -> str:
    out = subprocess.run(["scontrol", "show", "job", "-o", job], capture_output=True, text=True).stdout
    for field in out.split():
        if field.startswith("JobState="):
            return field.split("=", 1)[1]
    return "UNKNOWN"   # no longer known to the controller (MinJobAge passed)


def wait(jobs: dict[str, str], poll_seconds: float = 2.0) -> dict[str, str]:
    """Until no job of the submission is pending or running; returns stage -> final Slurm state."""
    while True:
        states = {name: job_state(job) for name, job in jobs.items()}
        if not any(s in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED")
                   for s in states.values()):
            return states
        time.sleep(poll_seconds)


def gather(jobs: dict[str, str], targets: list[str] | None = None) -> None:
    """Wait for the jobs, then check that dvc.lock records every stage; name what failed and what never ran."""
    states = wait(jobs)
    failed = {n: s for n, s in states.items() if s != FINISHED_OK and scheduler.log_path(n).exists()}
    never = sorted(n for n, s in states.items() if s != FINISHED_OK and not scheduler.log_path(n).exists())
    left = [s.name for s in scheduler.plan(".", targets)]
    if failed or never or left:
        raise SystemExit("slurm: " + "; ".join(
            [*(f"{n} {s} (log {scheduler.log_path(n)})" for n, s in sorted(failed.items())),
             *([f"never started (an upstream job failed): {', '.join(never)}"] if never else []),
             *([f"dvc.lock does not record yet: {', '.join(left)}"] if left else [])])
            + "\nrun the same command again: it submits only these")
    print(f"slurm: {len(jobs)} jobs completed; dvc.lock records every stage", flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Run the pipeline's stages as Slurm jobs in this (shared) workspace.")
    ap.add_argument("--cluster", type=Path, default=CLUSTER, help="resources per stage kind (default cluster.yaml)")
    ap.add_argument("--wait", action="store_true", help="wait for the jobs, then gather")
    ap.add_argument("--gather", action="store_true", help="wait for the last submission's jobs, then gather")
    ap.add_argument("targets", nargs="*", help="stages to reproduce with their upstream (default: all)")
    a = ap.parse_args(argv)
    try:
        if a.gather:
            gather(json.loads(SUBMITTED.read_text(encoding="utf-8")), a.targets or None)
            return
        slurm = load_cluster(a.cluster)
        preflight(Path("."))
        stages = scheduler.plan(".", a.targets or None)
        if not stages:
            print("slurm: nothing to run: dvc.lock records every stage", flush=True)
            return
        jobs = submit(stages, slurm, uses_gpu(read_params()))
        if a.wait:
            gather(jobs, a.targets or None)
    except ClusterError as e:
        raise SystemExit(f"slurm: {e}") from None


if __name__ == "__main__":
    main()
