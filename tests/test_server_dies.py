"""A local LLM server that dies ends its stage within seconds, saying how it died, and loses nothing: the real
generate@ stage with SmolLM2 served by llama-cpp-python on 127.0.0.1, its server killed with SIGKILL mid-generation,
or crashing by itself with a segmentation fault; then a re-run finishes without asking again for what was
answered."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from helpers import REPO
from test_generate import write_workdir

pytestmark = pytest.mark.integration  # the test tier (tests/conftest.py)

GENERATOR = "smollm2-135m"
SENTENCES = 38  # 30 pool + 8 test (write_workdir), no detector split
# Loaded by the llama.cpp server's Python (PYTHONPATH): after CRASH_AFTER completions the next one dereferences a
# null pointer, a real SIGSEGV in the server process, as a broken native build would.
SITECUSTOMIZE = '''
import os, sys
if "llama_cpp.server" in sys.orig_argv and os.environ.get("CRASH_AFTER"):
    import ctypes
    import llama_cpp.llama as L
    _complete, _count = L.Llama.create_completion, [0]
    def create_completion(self, *args, **kwargs):
        _count[0] += 1
        if _count[0] > int(os.environ["CRASH_AFTER"]):
            ctypes.string_at(0)
        return _complete(self, *args, **kwargs)
    L.Llama.create_completion = create_completion
'''


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """The test_generate corpus (30 pool and 8 test sentences) with the real SmolLM2 as the only generator."""
    monkeypatch.chdir(tmp_path)
    write_workdir(tmp_path, "http://127.0.0.1:9/v1", concurrency=1)
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    del params["generators"]["fake"]
    params["grid"].update(conditions=["real", GENERATOR], generators=[GENERATOR])
    params["generate"].update(timeout_seconds=60, max_retries=8, request_seconds=300)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return tmp_path


def stage(workdir: Path, extra_path: str = "", **env) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [extra_path, str(REPO / "src")])), **env}
    return subprocess.Popen([sys.executable, "-m", "regurgitative.generators.generate", "--generator", GENERATOR], cwd=workdir,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def answered(workdir: Path) -> int:
    cache = workdir / f"data/llm-cache/{GENERATOR}.jsonl"
    return len(cache.read_bytes().splitlines()) if cache.exists() else 0


def server_pid(stage_pid: int) -> int | None:
    """The llama.cpp server the stage started: its child running llama_cpp.server."""
    for proc in Path("/proc").iterdir():
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == stage_pid and b"llama_cpp.server" in (proc / "cmdline").read_bytes():
                return int(proc.name)
        except (OSError, ValueError, IndexError):
            continue
    return None


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def rerun_finishes_without_asking_again(workdir: Path, answered_before: int) -> None:
    done = stage(workdir)
    _, err = done.communicate(timeout=600)
    assert done.returncode == 0, err[-3000:]
    metrics = json.loads((workdir / f"results/generators/{GENERATOR}.json").read_text())
    assert metrics["cache_hits"] == answered_before and metrics["requests"] == SENTENCES - answered_before
    assert answered(workdir) == SENTENCES


def test_a_server_killed_mid_generation_ends_the_stage_within_seconds(workdir):
    proc = stage(workdir)
    wait_for(lambda: answered(workdir) >= 5, 180, "five answers")
    pid = server_pid(proc.pid)
    assert pid, "no llama_cpp.server child found"
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    _, err = proc.communicate(timeout=60)
    seconds = time.monotonic() - killed
    assert proc.returncode != 0 and seconds < 10, (seconds, err[-2000:])
    print(f"the stage ended {seconds:.1f} s after the kill")
    assert f"generate@{GENERATOR}: the local LLM server '{GENERATOR}'" in err
    assert "was killed by signal SIGKILL (9)" in err and "Its log (logs/" in err
    answered_before = answered(workdir)
    assert 5 <= answered_before < SENTENCES, "the kill came too late to test resuming"
    rerun_finishes_without_asking_again(workdir, answered_before)


def test_a_server_that_segfaults_by_itself_ends_the_stage_within_seconds(workdir, tmp_path_factory):
    hook = tmp_path_factory.mktemp("crash")
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    proc = stage(workdir, str(hook), CRASH_AFTER="6")
    wait_for(lambda: answered(workdir) >= 6, 180, "six answers")  # the seventh request crashes the server
    sixth = time.monotonic()
    _, err = proc.communicate(timeout=300)
    seconds = time.monotonic() - sixth
    assert proc.returncode != 0 and seconds < 10, (seconds, err[-2000:])
    assert "was killed by signal SIGSEGV (11)" in err, err[-2000:]
    # faulthandler (-X faulthandler) put the crash into the server's log, and the stage quotes the log's tail
    # (its last 30 lines: with many threads alive, faulthandler's stacks push its first line out of them).
    log_crash = (workdir / f"logs/{GENERATOR}/server-0.log").read_text()
    assert "Fatal Python error: Segmentation fault" in log_crash
    assert log_crash.splitlines()[-1] in err
    assert answered(workdir) == 6
    print(f"the stage ended {seconds:.1f} s after the server's last answer")
    rerun_finishes_without_asking_again(workdir, 6)
