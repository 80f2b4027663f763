"""Benchmark: what dvc.lock's size costs every stage of a `dvc repro`. DVC loads the lock file to check a stage
and rewrites it whole after the stage has run, so a stage's fixed cost grows with the number of entries in the
lock. Measures and prints; asserts nothing.

    python benchmarks/bench_lockfile.py                     # the committed dvc.lock, and prefixes of it
    python benchmarks/bench_lockfile.py --lock /tmp/run/dvc.lock --entries 0 40 80

For each number of entries (the first n stages of the lock) it prints the seconds DVC's own YAML code takes to
parse the file and to write it back, the mean of --repeat runs. Measured on 2 cores of an "Intel Xeon Processor
@ 2.80GHz" (stop 24): a ci run whose copy still held the default's 149 entries besides its own 83 (17,146 lines)
took 2.7 s to parse and 2.1 s to write; its 83 entries alone 1.0 s and 0.85 s; a cheap stage
(`dvc repro -f -s baseline`) took 10.0 s with the first lock and 4.8 s with the second.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from dvc.utils.serialize import dump_yaml, parse_yaml

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lock", type=Path, default=REPO / "dvc.lock")
    ap.add_argument("--entries", nargs="+", type=int, help="numbers of entries to time (default: 0, 1/4, 1/2, all)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    lock = parse_yaml(args.lock.read_text(encoding="utf-8"), str(args.lock))
    names = list(lock["stages"])
    sizes = args.entries or [0, len(names) // 4, len(names) // 2, len(names)]
    print(f"{args.lock}: {len(names)} entries")
    print("| entries | lines | parse s | write s |\n| --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dvc.lock"
        for n in sizes:
            dump_yaml(path, {**lock, "stages": {k: lock["stages"][k] for k in names[:n]}})
            text = path.read_text(encoding="utf-8")
            start = time.perf_counter()
            for _ in range(args.repeat):
                data = parse_yaml(text, str(path))
            parsed = time.perf_counter()
            for _ in range(args.repeat):
                dump_yaml(path, data)
            written = time.perf_counter()
            print(f"| {n} | {text.count(chr(10))} | {(parsed - start) / args.repeat:.2f} | "
                  f"{(written - parsed) / args.repeat:.2f} |", flush=True)


if __name__ == "__main__":
    main()
