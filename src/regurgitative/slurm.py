"""The pipeline's stages as Slurm jobs: the scheduler's plan (regurgitative/scheduler.py), one job per stage,
started by Slurm when its upstream jobs succeed (`--dependency=afterok`, `--kill-on-invalid-dep=yes`, so that the
dependants of a failed job are cancelled instead of waiting forever).

    python -m regurgitative.slurm [--cluster cluster.yaml] [--wait] [stage ...]   # submit (and wait, then gather)
    python -m regurgitative.slurm --gather                                        # wait for the last submission

With `filesystem: shared` (cluster.yaml), every job runs `dvc --wait-for-lock repro --single-item <stage>` in this
workspace, which must lie on a filesystem every node mounts (with its DVC cache): DVC takes its lock only to read
and record, so jobs run side by side and each records its stage in the one dvc.lock, and nothing comes back. With
`filesystem: none`, every job clones the commit into its node's scratch and its outputs come back through the
default DVC remote's run cache (regurgitative/runcache.py); the gather restores them. The gather waits for the
jobs, names each failed stage with its log and the stages that never started, and checks that dvc.lock now
records every planned stage. Running the same command again submits only what did not
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
# shared: one workspace every node mounts; none: each job clones the commit into node-local scratch and its outputs
# come back through the DVC remote's run cache (regurgitative/runcache.py)
FILESYSTEMS = ("shared", "none")


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
    slurm.setdefault("filesystem", "shared")
    slurm["scratch"] = slurm.get("scratch") or "/tmp"
    if slurm["filesystem"] not in FILESYSTEMS:
        raise ClusterError(f"{path}: slurm.filesystem is {slurm['filesystem']!r}; expected one of {', '.join(FILESYSTEMS)}")
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


def job_script(stage: scheduler.Stage, slurm: dict, gpu: bool, workspace: Path,
               checkout: tuple[str, str] | None = None) -> str:
    """The sbatch script of one stage: in the shared workspace, or (checkout = (git url, commit)) in a clone of
    its own on the node's scratch that is removed at the end."""
    head = ["#!/bin/bash", f"#SBATCH --job-name={stage.name}",
            *(f"#SBATCH {o}" for o in resources(stage.kind, slurm, gpu)),
            # stages call `python` and fairseq-*: this environment's, as `make repro` sets PATH
            f"export PATH={Path(sys.executable).parent}:$PATH"]
    if checkout is None:
        return "\n".join([head[0], f"#SBATCH --output={(workspace / scheduler.log_path(stage.name)).resolve()}",
                          f"#SBATCH --chdir={workspace.resolve()}", *head[1:],
                          "exec " + " ".join(f"'{a}'" for a in scheduler.stage_command(stage.name)), ""])
    url, commit = checkout
    scratch = slurm["scratch"]
    return "\n".join([head[0], f"#SBATCH --output={node_log(slurm, stage.name)}", f"#SBATCH --chdir={scratch}",
                      *head[1:], "set -euo pipefail", f'ws={scratch}/regurgitative-"$SLURM_JOB_ID"',
                      'trap \'cd / && rm -rf "$ws"\' EXIT', 'rm -rf "$ws"',
                      f"git clone -q --no-checkout '{url}' \"$ws\"", 'cd "$ws"', f"git checkout -q --detach {commit}",
                      'export PYTHONPATH="$ws/src"',   # the commit's code
                      f"python -m regurgitative.runcache job '{stage.name}'", ""])


def node_log(slurm: dict, name: str, job: str = "%j") -> str:
    """Where a job of the no-shared-filesystem mode writes its output: on its node."""
    return f"{slurm['scratch']}/regurgitative-{name}-{job}.log"   # a directory Slurm need not make


def require_sbatch() -> None:
    if not shutil.which("sbatch"):
        raise ClusterError("sbatch is not on PATH: run this on a Slurm login node (or install slurm-client)")


def preflight(workspace: Path) -> None:
    """What must hold before anything is submitted: Slurm's client, and a DVC cache the jobs can write."""
    require_sbatch()
    out = subprocess.run([sys.executable, "-m", "dvc", "cache", "dir"], cwd=workspace, capture_output=True,
                         text=True)
    cache = Path(out.stdout.strip()) if out.returncode == 0 else None
    if cache is not None and cache.resolve() == (workspace / ".dvc" / "cache").resolve():
        cache.mkdir(exist_ok=True)   # the workspace's own cache, which DVC makes on first use
    if cache is None or not cache.is_dir() or not os.access(cache, os.W_OK):
        raise ClusterError(f"the DVC cache {cache or '(dvc cache dir failed: ' + out.stderr.strip() + ')'} is "
                           f"missing or not writable: every job stores its outputs there (create it, or point "
                           f"`dvc cache dir` at a directory on the shared filesystem)")


def preflight_remote(slurm: dict) -> tuple[str, str]:
    """What the no-shared-filesystem mode needs before anything is submitted: a committed workspace whose commit
    the nodes can clone, and a default DVC remote in the committed .dvc/config that holds the recorded outputs.
    Returns (git url, commit)."""
    require_sbatch()
    dirty = git("status", "--porcelain", "--untracked-files=no")
    if dirty:
        raise ClusterError(f"uncommitted changes ({dirty.splitlines()[0].strip()} ...): the jobs clone a commit, so "
                           f"commit (and push) first")
    commit = git("rev-parse", "HEAD")
    url = slurm.get("git_url") or git("remote", "get-url", "origin", check=False)
    if not url:
        raise ClusterError("no git URL for the jobs to clone: set slurm.git_url in cluster.yaml or a remote `origin`")
    heads = git("ls-remote", url, check=False)
    if not heads:
        raise ClusterError(f"the nodes clone {url}, which cannot be read here (git ls-remote found nothing)")
    if not any(subprocess.run(["git", "merge-base", "--is-ancestor", commit, line.split()[0]],
                              capture_output=True).returncode == 0 for line in heads.splitlines()):
        raise ClusterError(f"{url} does not have commit {commit[:12]}: push it first")
    remote = dvc_out("config", "--project", "core.remote")
    if not remote:
        raise ClusterError("no default DVC remote in the committed .dvc/config (dvc remote add -d NAME URL): the "
                           "jobs exchange their outputs through it")
    push = subprocess.run([sys.executable, "-m", "dvc", "push"], capture_output=True, text=True)
    if push.returncode != 0:
        raise ClusterError(f"`dvc push` to the remote {remote!r} failed: the jobs need the recorded outputs there\n"
                           + (push.stderr or push.stdout).strip()[-1500:])
    return url, commit


def git(*args: str, check: bool = True) -> str:
    out = subprocess.run(["git", *args], capture_output=True, text=True)
    if check and out.returncode != 0:
        raise ClusterError(f"git {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout.strip() if out.returncode == 0 else ""


def dvc_out(*args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "dvc", *args], capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else ""


def submit(stages: list[scheduler.Stage], slurm: dict, gpu: bool, workspace: Path = Path("."),
           checkout: tuple[str, str] | None = None) -> dict[str, str]:
    """sbatch every planned stage, upstream first; returns stage -> job id (also in logs/slurm/submitted.json)."""
    JOB_DIR.mkdir(parents=True, exist_ok=True)
    scheduler.LOG_DIR.mkdir(parents=True, exist_ok=True)
    jobs: dict[str, str] = {}
    for s in stages:
        script = JOB_DIR / f"{s.name}.sh"
        script.write_text(job_script(s, slurm, gpu, workspace, checkout), encoding="utf-8")
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


def job_fields(job: str) -> dict[str, str]:
    """What the controller knows of a job (JobState, NodeList, ...); {} once it forgot it (MinJobAge passed)."""
    out = subprocess.run(["scontrol", "show", "job", "-o", job], capture_output=True, text=True).stdout
    return dict(f.split("=", 1) for f in out.split() if "=" in f)


def wait(jobs: dict[str, str], poll_seconds: float = 2.0) -> dict[str, dict[str, str]]:
    """Until no job of the submission is pending or running; returns stage -> its job's final fields."""
    while True:
        fields = {name: job_fields(job) for name, job in jobs.items()}
        if not any(f.get("JobState", "UNKNOWN") in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED",
                                                    "REQUEUED") for f in fields.values()):
            return fields
        time.sleep(poll_seconds)


def gather(jobs: dict[str, str], targets: list[str] | None = None, slurm: dict | None = None) -> None:
    """Wait for the jobs, then check that dvc.lock records every stage; name what failed and what never ran.
    Without a shared filesystem, first restore every completed stage from the remote's run cache."""
    shared = (slurm or {}).get("filesystem", "shared") == "shared"
    fields = wait(jobs)
    states = {n: f.get("JobState", "UNKNOWN") for n, f in fields.items()}
    if shared:
        started = {n for n in jobs if scheduler.log_path(n).exists()}
        logs = {n: str(scheduler.log_path(n)) for n in jobs}
    else:
        started = {n for n, f in fields.items() if f.get("NodeList", "(null)") not in ("", "(null)")}
        logs = {n: f"{fields[n].get('NodeList')}:{node_log(slurm, n, jobs[n])}" for n in jobs}
    failed = {n: s for n, s in states.items() if s != FINISHED_OK and n in started}
    never = sorted(n for n, s in states.items() if s != FINISHED_OK and n not in started)
    problems = []
    if not shared:
        done = [s.name for s in scheduler.plan(".", targets) if states.get(s.name) == FINISHED_OK]   # upstream first
        if done:
            print(f"slurm: restoring {len(done)} stages from the remote's run cache", flush=True)
            if subprocess.run([sys.executable, "-m", "regurgitative.runcache", "restore", *done]).returncode != 0:
                problems.append("restoring the completed stages from the run cache failed (above)")
    left = [s.name for s in scheduler.plan(".", targets)]
    if failed or never or left or problems:
        raise SystemExit("slurm: " + "; ".join(
            [*(f"{n} {s} (log {logs[n]})" for n, s in sorted(failed.items())),
             *([f"never started (an upstream job failed): {', '.join(never)}"] if never else []),
             *problems, *([f"dvc.lock does not record yet: {', '.join(left)}"] if left else [])])
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
        slurm = load_cluster(a.cluster)
        if a.gather:
            gather(json.loads(SUBMITTED.read_text(encoding="utf-8")), a.targets or None, slurm)
            return
        checkout = None
        if slurm["filesystem"] == "shared":
            preflight(Path("."))
        else:
            checkout = preflight_remote(slurm)
        stages = scheduler.plan(".", a.targets or None)
        if not stages:
            print("slurm: nothing to run: dvc.lock records every stage", flush=True)
            return
        jobs = submit(stages, slurm, uses_gpu(read_params()), checkout=checkout)
        if a.wait:
            gather(jobs, a.targets or None, slurm)
    except ClusterError as e:
        raise SystemExit(f"slurm: {e}") from None


if __name__ == "__main__":
    main()
