"""Run the pipeline's stages side by side: one scheduler decides which stages must run and which are ready, and
an executor runs them. `python -m regurgitative.scheduler --jobs N` (what `make repro JOBS=N` calls) runs N at a
time on this machine; a cluster executor submits the same plan (issue 29).

Every stage runs as `dvc --wait-for-lock repro --single-item <stage>` in this workspace: DVC holds its repository
lock only while it reads and records, not while a stage's command runs, so several such processes run their
commands at once and take turns writing dvc.lock (../shared/STACK.md verified it with DVC 3.67). What each stage
computes is what a serial `dvc repro` computes (a stage's threads are its params, not the executor's), so dvc.lock
is the same; `make repro` runs a plain `dvc repro` afterwards, which finds nothing left to do.

The plan is every stage `dvc status` reports changed and everything downstream of one (an upstream rerun may change
its inputs); a downstream stage whose inputs turn out unchanged costs one `dvc repro` that skips it. A stage that
fails stops its dependants only: independent stages go on, and the end names every failed stage with its log.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

LOG_DIR = Path("logs/stages")   # one log per stage run by the scheduler (git-ignored like all of logs/)


@dataclass(frozen=True)
class Stage:
    name: str                    # DVC's address: train@real-2000-1
    upstream: tuple[str, ...]    # the planned stages it waits for

    @property
    def kind(self) -> str:
        """The stage's name in dvc.yaml (before '@'): what decides the resources it asks a cluster for."""
        return self.name.split("@", 1)[0]


def plan(root: Path | str = ".", targets: list[str] | None = None) -> list[Stage]:
    """The stages a `dvc repro` of `targets` (all when None) would have to consider, in an order that runs each
    after its upstream: those `dvc status` reports changed, and everything downstream of them."""
    from dvc.repo import Repo
    import networkx as nx

    with Repo(str(root)) as repo:
        graph = repo.index.graph                      # edges run from a stage to the stages it depends on
        by_name = {s.addressing: s for s in graph.nodes}
        wanted = set(by_name)
        if targets:
            missing = [t for t in targets if t not in by_name]
            if missing:
                raise SystemExit(f"dvc.yaml: no stage named {', '.join(missing)}")
            wanted = {n for t in targets for n in [t, *(s.addressing for s in nx.descendants(graph, by_name[t]))]}
        changed = set(repo.status(targets=targets or None, with_deps=bool(targets))) & wanted
        needed = set(changed)
        for name in changed:                          # a rerun upstream may change a downstream stage's inputs
            needed |= {s.addressing for s in nx.ancestors(graph, by_name[name])} & wanted
        upstream_first = nx.lexicographical_topological_sort(graph.reverse(), key=lambda s: s.addressing)
        order = [s.addressing for s in upstream_first if s.addressing in needed]
        return [Stage(n, tuple(sorted(d.addressing for d in graph.successors(by_name[n]) if d.addressing in needed)))
                for n in order]


def ready(stages: list[Stage], done: set[str], started: set[str], failed: set[str]) -> list[Stage]:
    """Stages not started whose upstream all succeeded: those with the most stages waiting downstream first (a
    teacher before a student of real data), then in plan order."""
    weight = downstream_counts(stages)
    found = [s for s in stages if s.name not in started and s.name not in blocked(stages, failed)
             and all(u in done for u in s.upstream)]
    return sorted(found, key=lambda s: -weight[s.name])


def downstream_counts(stages: list[Stage]) -> dict[str, int]:
    """How many planned stages wait, directly or not, for each stage."""
    below: dict[str, set[str]] = {s.name: set() for s in stages}
    for s in reversed(stages):                 # plan order is upstream first: dependants are already complete
        for u in s.upstream:
            below[u] |= {s.name} | below[s.name]
    return {name: len(names) for name, names in below.items()}


def blocked(stages: list[Stage], failed: set[str]) -> set[str]:
    """Every stage downstream of a failed one: it never starts."""
    out: set[str] = set()
    changed = True
    while changed:
        changed = False
        for s in stages:
            if s.name not in out and any(u in failed or u in out for u in s.upstream):
                out.add(s.name)
                changed = True
    return out


def stage_command(name: str) -> list[str]:
    return [sys.executable, "-m", "dvc", "--wait-for-lock", "repro", "--single-item", name]


def log_path(name: str) -> Path:
    return LOG_DIR / f"{name}.log"


def run_local(stages: list[Stage], jobs: int, poll_seconds: float = 0.5) -> dict[str, int]:
    """Run the plan `jobs` stages at a time; returns each started stage's exit status."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    running: dict[str, subprocess.Popen] = {}
    status: dict[str, int] = {}
    t0 = time.monotonic()
    spans: dict[str, list[float]] = {}
    try:
        while True:
            done = {n for n, rc in status.items() if rc == 0}
            failed = {n for n, rc in status.items() if rc != 0}
            for s in ready(stages, done, set(status) | set(running), failed)[:max(0, jobs - len(running))]:
                spans[s.name] = [round(time.monotonic() - t0, 1)]
                print(f"scheduler: +{spans[s.name][0]:.0f}s start {s.name} (log {log_path(s.name)})", flush=True)
                with log_path(s.name).open("w", encoding="utf-8") as log:
                    running[s.name] = subprocess.Popen(stage_command(s.name), stdout=log, stderr=subprocess.STDOUT)
            if not running:
                # when each stage started and ended, in seconds from the start: where a run's minutes went
                (LOG_DIR / "schedule.json").write_text(json.dumps(spans, indent=1) + "\n", encoding="utf-8")
                return status
            time.sleep(poll_seconds)
            for name, proc in list(running.items()):
                if proc.poll() is not None:
                    status[name] = proc.returncode
                    del running[name]
                    spans[name].append(round(time.monotonic() - t0, 1))
                    outcome = "done" if proc.returncode == 0 else f"FAILED ({proc.returncode})"
                    print(f"scheduler: +{spans[name][1]:.0f}s {outcome} {name}", flush=True)
    finally:
        for proc in running.values():      # interrupted: stop what still runs (a rerun redoes only those)
            proc.terminate()
        for proc in running.values():
            proc.wait()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Run the pipeline's stages N at a time (then `dvc repro` records "
                                             "nothing new: every stage is already recorded in dvc.lock).")
    ap.add_argument("--jobs", type=int, default=2, help="stages at a time (default 2)")
    ap.add_argument("targets", nargs="*", help="stages to reproduce with their upstream (default: all)")
    a = ap.parse_args(argv)
    if a.jobs < 1:
        raise SystemExit("--jobs must be at least 1")
    stages = plan(".", a.targets or None)
    print(f"scheduler: {len(stages)} stages to run or check, {a.jobs} at a time", flush=True)
    status = run_local(stages, a.jobs)
    failed = sorted(n for n, rc in status.items() if rc != 0)
    if failed:
        never = sorted(blocked(stages, set(failed)))
        raise SystemExit("scheduler: failed: " + "; ".join(f"{n} (log {log_path(n)})" for n in failed)
                         + (f"\nnot started, downstream of a failure: {', '.join(never)}" if never else ""))


if __name__ == "__main__":
    main()
