"""Benchmark: `dvc push` and `dvc pull` of a ci run's artefacts to each kind of DVC remote, every one a real
server on 127.0.0.1 (the tests' tests/remote_servers.py). Measures and prints; asserts nothing.

    python benchmarks/bench_remote.py                        # builds a ci run first (about 5 min)
    python benchmarks/bench_remote.py --ci-run PATH          # reuse one: a repository after `dvc repro`, committed
    python benchmarks/bench_remote.py --kinds local s3 --repeat 3

Push: from a clone that has the run's DVC cache, into an empty remote. Pull: into a fresh clone with an empty
cache. `http` is read-only: its push row is the push to the local directory it serves.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import ci_run  # noqa: E402
from remote_servers import dvc_remote_args, http_readonly, local_dir, moto_s3, sshd, webdav  # noqa: E402

BIN = Path(sys.executable).parent
KINDS = ["local", "s3", "ssh", "webdav", "http"]
SERVERS = {"s3": moto_s3, "ssh": sshd, "webdav": webdav, "http": lambda tmp: http_readonly(tmp / "served", tmp)}


def dvc(cwd: Path, *args: str, env: dict) -> float:
    start = time.perf_counter()
    ci_run.run([BIN / "dvc", *args], cwd, env=env)
    return time.perf_counter() - start


def size_of(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def bench(kind: str, source: Path, tmp: Path) -> dict:
    with ExitStack() as stack:
        store = stack.enter_context(local_dir(tmp / "served"))  # the local kind, and what http serves
        remote = store if kind == "local" else stack.enter_context(SERVERS[kind](tmp))
        pub = ci_run.clone(source, tmp / "pub", with_cache=True)
        for remote_ in {store.name: store, remote.name: remote}.values():
            for args in dvc_remote_args(remote_):
                ci_run.run([BIN / "dvc", *args], pub)
        push = dvc(pub, "push", "-r", store.name if kind == "http" else remote.name, env=remote.env)
        fresh = ci_run.clone(pub, tmp / "fresh", with_cache=False)
        shutil.copy(pub / ".dvc/config", fresh / ".dvc/config")
        if (pub / ".dvc/config.local").exists():
            shutil.copy(pub / ".dvc/config.local", fresh / ".dvc/config.local")
        pull = dvc(fresh, "pull", "-r", remote.name, env=remote.env)
        files, size = size_of(fresh / ".dvc/cache/files")
        return {"files": files, "bytes": size, "push_s": push, "pull_s": pull}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ci-run", type=Path, help="a committed ci run to reuse (default: build one)")
    ap.add_argument("--kinds", nargs="+", choices=KINDS, default=KINDS)
    ap.add_argument("--repeat", type=int, default=1, help="runs per kind; the table shows the fastest")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-remote-") as tmp_name:
        tmp = Path(tmp_name)
        source = a.ci_run.resolve() if a.ci_run else None
        if source is None:
            (tmp / "ci").mkdir()
            start = time.perf_counter()
            source = ci_run.build(tmp / "ci")
            print(f"ci run built in {time.perf_counter() - start:.0f} s")
        version = subprocess.run([BIN / "dvc", "--version"], capture_output=True, text=True).stdout.strip()
        print(f"machine: {os.cpu_count()} cores; dvc {version}")
        print(f"{'remote':8} {'objects':>7} {'MB':>6} {'push s':>7} {'pull s':>7} {'push MB/s':>9} {'pull MB/s':>9}")
        for kind in a.kinds:
            runs = []
            for i in range(a.repeat):
                work = tmp / f"{kind}-{i}"
                work.mkdir()
                runs.append(bench(kind, source, work))
                shutil.rmtree(work)
            push, pull = min(r["push_s"] for r in runs), min(r["pull_s"] for r in runs)
            mb = runs[0]["bytes"] / 1e6
            print(f"{kind:8} {runs[0]['files']:>7} {mb:>6.1f} {push:>7.2f} {pull:>7.2f} {mb / push:>9.1f} "
                  f"{mb / pull:>9.1f}", flush=True)


if __name__ == "__main__":
    main()
