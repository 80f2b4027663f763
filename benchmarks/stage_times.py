"""Where a `dvc repro`'s minutes went, from a log whose lines are stamped with their second (the ci run's
`logs/ci-repro.log`, written by tests/ci_run.py). Measures and prints; asserts nothing.

    python benchmarks/stage_times.py /tmp/pytest-of-$USER/pytest-current/e2e0/repo/logs/ci-repro.log

A stage's time runs from its "Running stage" line to the next one (the last to the log's end), so DVC's own
work after a stage (hashing, dvc.lock) counts to that stage.
"""
from __future__ import annotations

import argparse
import re
from collections import defaultdict
from pathlib import Path

STAMPED = re.compile(r"^\s*(\d+(?:\.\d+)?) (.*)$")
RUNNING = re.compile(r"Running stage '([^']+)'")


def stage_seconds(log: Path) -> tuple[list[tuple[str, float]], float]:
    starts, end = [], 0.0
    for line in log.read_text(encoding="utf-8").splitlines():
        if m := STAMPED.match(line):
            end = float(m[1])
            if r := RUNNING.search(m[2]):
                starts.append((r[1], end))
    return [(name, (starts[i + 1][1] if i + 1 < len(starts) else end) - t)
            for i, (name, t) in enumerate(starts)], end


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("log", type=Path)
    ap.add_argument("--slowest", type=int, default=10)
    a = ap.parse_args()
    stages, total = stage_seconds(a.log)
    kinds: dict[str, list[float]] = defaultdict(list)
    for name, seconds in stages:
        kinds[name.split("@")[0]].append(seconds)
    print(f"{len(stages)} stages ran, {total:.0f} s in all\n\n| stage kind | stages | seconds | per stage |\n| --- | --- | --- | --- |")
    for kind, times in sorted(kinds.items(), key=lambda kv: -sum(kv[1])):
        print(f"| {kind} | {len(times)} | {sum(times):.0f} | {sum(times) / len(times):.1f} |")
    print(f"\nslowest {a.slowest}:")
    for name, seconds in sorted(stages, key=lambda s: -s[1])[:a.slowest]:
        print(f"{seconds:7.1f} s  {name}")


if __name__ == "__main__":
    main()
