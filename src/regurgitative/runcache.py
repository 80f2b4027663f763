"""DVC's run cache as the way back for stages that ran somewhere else: what the Slurm executor's no-shared-filesystem
mode (regurgitative/slurm.py, `filesystem: none` in cluster.yaml) runs on each node and at the gather.

DVC's run cache keys a stage's outputs by its command, dependencies and parameters; `dvc push --run-cache` sends
them to the remote and `dvc repro --pull` on another machine restores the stage instead of running it. It leaves two
kinds of stage out, and this pipeline has both:
- stages with a `persist: true` output (generate@'s response cache; finetune-base's and finetune@'s state): DVC keeps
  them out because a persisted output may depend on what an earlier run left, not only on the inputs. Here the
  persisted outputs are response caches and job records, which only ever answer the same request the same way: what
  a job produced is exactly what the stage must record, so the run cache may carry it (`persist_in_run_cache`);
- stages with a `cache: false` output that is not a metric (finetune-base, finetune@ and the analyses, whose
  tables are kept in git): `dvc repro` does not save them to the run cache, although the run cache stores and
  restores such outputs (it does so for metrics). `job` saves every stage it ran explicitly (`publish`).

    python -m regurgitative.runcache dvc ARGS...          # dvc, with persist outputs allowed in the run cache
    python -m regurgitative.runcache job STAGE             # on a node, in a clone of the commit (the job script's)
    python -m regurgitative.runcache restore STAGE...     # the gather, upstream first: restore, never compute

Checked against DVC 3.67 (requirements/main.txt pins it; tests/test_slurm.py fails if its run cache changes).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def persist_in_run_cache(restore_only: bool = False) -> Iterator[None]:
    """DVC's run cache, persist outputs included; with restore_only, a stage without a run-cache entry fails
    instead of running (the gather computes nothing)."""
    from dvc.exceptions import DvcException
    from dvc.stage import cache, run

    can_hash, cmd_run = cache._can_hash, run.cmd_run

    def can_hash_persist(stage) -> bool:
        persisted = [out for out in stage.outs if out.persist]
        for out in persisted:
            out.persist = False
        try:
            return can_hash(stage)
        finally:
            for out in persisted:
                out.persist = True

    def refuse(stage, *args, **kwargs):
        raise DvcException(f"'{stage.addressing}' has no run-cache entry on the remote: its job did not finish, and "
                           f"the gather computes nothing (submit again: it runs only what is missing)")

    cache._can_hash = can_hash_persist
    if restore_only:
        run.cmd_run = refuse
    try:
        yield
    finally:
        cache._can_hash, run.cmd_run = can_hash, cmd_run


def dvc(argv: list[str], restore_only: bool = False) -> int:
    from dvc.cli import main as dvc_main

    with persist_in_run_cache(restore_only):
        return dvc_main(argv)


def publish(names: list[str], root: Path | str = ".") -> None:
    """Save stages as dvc.lock records them now into the run cache, `cache: false` outputs included, and push the
    objects their entries name (`dvc push --run-cache` sends the entries but, in DVC 3, only the objects of cached
    outputs: a restore elsewhere would miss the rest)."""
    from dvc.repo import Repo
    from dvc.stage import cache
    from dvc.stage.serialize import to_single_stage_lockfile

    with persist_in_run_cache(), Repo(str(root)) as repo:
        for name in names:
            for stage in repo.stage.collect(name):
                if not cache._can_hash(stage):
                    raise SystemExit(f"runcache: DVC's run cache cannot carry '{name}' back (a stage needs a command, "
                                     f"dependencies and outputs inside the repository, and no always_changed)")
                repo.stage_cache.save(stage)
                entry = (cache._get_stage_hash(stage), cache._get_cache_hash(to_single_stage_lockfile(stage)))
                objs = set().union(*repo.stage_cache.get_used_objs([entry]).values())
                failed = repo.cloud.push(objs).failed
                if failed:
                    raise SystemExit(f"runcache: pushing {len(failed)} objects of '{name}' failed")


def run(cmd: list[str]) -> None:
    print("+ " + " ".join(cmd), flush=True)
    proc = subprocess.run(cmd)
    if proc.returncode != 0:
        raise SystemExit(f"runcache: `{' '.join(cmd)}` failed ({proc.returncode})")


def job(stage: str) -> None:
    """One stage in a clone of its commit that shares nothing with the other jobs (the job script clones it):
    its upstream restored from the default remote's run cache (DVC pulls what the stage needs), the stage run, or
    restored if it already ran somewhere, then saved into the run cache and pushed."""
    me = [sys.executable, "-m", "regurgitative.runcache"]
    run([*me, "dvc", "fetch", "--run-cache", stage])      # the run cache's entries, and the stage's last outputs
    # a persisted response cache to resume from, where the commit records one (a new stage has none: no error)
    subprocess.run([*me, "dvc", "checkout", stage], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Not --allow-missing: it skips a stage that has no dvc.lock entry when its dependencies are missing too.
    # Recorded upstream stages are pulled, the others restored from the run cache; the stage runs unless restored.
    run([*me, "dvc", "repro", "--pull", stage])
    run([*me, "publish", stage])
    run([*me, "dvc", "push", "--run-cache", stage])


def restore(stages: list[str]) -> int:
    """The gather: the stages (upstream first) restored from the default remote's run cache, none computed."""
    if dvc(["fetch", "--run-cache", *stages]) != 0:
        raise SystemExit("runcache: fetching the run cache failed")
    return dvc(["repro", "--pull", "--single-item", *stages], restore_only=True)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["dvc"]:
        sys.exit(dvc(argv[1:]))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("job", help="run one stage through the default remote's run cache").add_argument("stage")
    sub.add_parser("publish", help="save stages as dvc.lock records them into the run cache; push its objects"
                   ).add_argument("stages", nargs="+")
    sub.add_parser("restore", help="restore stages from the remote's run cache, computing none").add_argument(
        "stages", nargs="+")
    a = ap.parse_args(argv)
    if a.command == "job":
        job(a.stage)
    elif a.command == "publish":
        publish(a.stages)
    else:
        sys.exit(restore(a.stages))


if __name__ == "__main__":
    main()
