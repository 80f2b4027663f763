"""Running the fairseq command-line tools, visibly: every command is printed and can be saved as a
script a reader could type again."""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

# The venv's console scripts (fairseq-train, ...) sit next to its python, which may not be on PATH when a
# stage is started by a bare `.venv/bin/dvc repro`.
BIN_DIR = Path(sys.executable).parent


def fairseq_env(threads: int | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN_DIR}{os.pathsep}{env.get('PATH', '')}"
    # torch>=2.6 loads checkpoints with weights_only=True, which refuses fairseq's (argparse Namespace inside).
    env["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"
    env.setdefault("PYTHONWARNINGS", "ignore")
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return env


def command_line(cmd: list[str]) -> str:
    return shlex.join(cmd)


def run(cmd: list[str], *, log: Path | None = None, threads: int | None = None) -> float:
    """Run a fairseq command; stream its output to stderr (and to `log`); return the wall time in seconds.
    A failure raises with the command line and the tail of the output."""
    print(f"+ {command_line(cmd)}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    tail: list[str] = []
    log_file = log.open("w", encoding="utf-8") if log else None
    try:
        with subprocess.Popen(cmd, env=fairseq_env(threads), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, bufsize=1) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                sys.stderr.write(line)
                if log_file:
                    log_file.write(line)
                tail = (tail + [line])[-30:]
            rc = proc.wait()
    finally:
        if log_file:
            log_file.close()
    if rc != 0:
        raise RuntimeError(f"command failed with exit status {rc}: {command_line(cmd)}\n" + "".join(tail))
    return time.perf_counter() - start


def save_command(cmd: list[str], path: Path, cwd_note: str = "run from the repository root") -> None:
    """Write the exact command as a shell script next to what it produced."""
    env = "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 "
    path.write_text(f"#!/bin/sh\n# {cwd_note}, in the project's venv\n{env}{command_line(cmd)}\n",
                    encoding="utf-8")
