"""Where a pipeline run's minutes went, from a log whose lines are stamped with their second (the ci run's
`logs/ci-repro.log`, written by tests/ci_run.py). Measures and prints; asserts nothing.

    python benchmarks/stage_times.py /tmp/pytest-of-$USER/pytest-current/e2e0/repo/logs/ci-repro.log

A stage that a serial `dvc repro` ran lasts from its "Running stage" line to the next stage's line, the next
command of the log ("$ ..." lines) or the log's end, so DVC's own work after a stage (hashing, dvc.lock) counts to
that stage. A stage the scheduler ran (`regurgitative.scheduler`, two at a time) lasts from its "start" line to its
"done" or "FAILED" line. Stage seconds add up to more than the wall time where stages ran side by side.
"""
from __future__ import annotations

import argparse
import re
from collections import defaultdict
from pathlib import Path

STAMPED = re.compile(r"^\s*(\d+(?:\.\d+)?) (.*)$")
RUNNING = re.compile(r"Running stage '([^']+)'")
SCHEDULED = re.compile(r"^scheduler: \+\d+s (start|done|FAILED \(-?\d+\)) (\S+)")


def stage_seconds(log: Path) -> tuple[list[tuple[str, float]], float]:
    """(stage, seconds) in the order the stages started, and the log's last second."""
    spans: dict[str, list[float]] = {}
    serial, end = None, 0.0
    for line in log.read_text(encoding="utf-8").splitlines():
        if not (m := STAMPED.match(line)):
            continue
        end = float(m[1])
        if serial and (RUNNING.search(m[2]) or m[2].startswith("$ ")):
            spans[serial].append(end)
            serial = None
        if r := RUNNING.search(m[2]):
            serial = r[1]
            spans[serial] = [end]
        elif s := SCHEDULED.match(m[2]):
            spans.setdefault(s[2], []).append(end)
    if serial:
        spans[serial].append(end)
    return [(name, (span[1] if len(span) > 1 else end) - span[0]) for name, span in spans.items()], end


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("log", type=Path)
    ap.add_argument("--slowest", type=int, default=10)
    a = ap.parse_args()
    stages, total = stage_seconds(a.log)
    kinds: dict[str, list[float]] = defaultdict(list)
    for name, seconds in stages:
        kinds[name.split("@")[0]].append(seconds)
    print(f"{len(stages)} stages ran, {sum(s for _, s in stages):.0f} s of stage time in {total:.0f} s\n\n| stage kind | stages | seconds | per stage |\n| --- | --- | --- | --- |")
    for kind, times in sorted(kinds.items(), key=lambda kv: -sum(kv[1])):
        print(f"| {kind} | {len(times)} | {sum(times):.0f} | {sum(times) / len(times):.1f} |")
    print(f"\nslowest {a.slowest}:")
    for name, seconds in sorted(stages, key=lambda s: -s[1])[:a.slowest]:
        print(f"{seconds:7.1f} s  {name}")


if __name__ == "__main__":
    main()
