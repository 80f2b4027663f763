"""Artefacts on DVC remotes, against real servers on 127.0.0.1 started by the tests: the session's ci run is
pushed from a clone that has its cache, then pulled into a fresh clone with an empty cache, where `dvc repro`
must have nothing to do and `make figures` must work. Also: the documented default remote with `make push` and
`make pull`, the LLM response cache on its own, partial pulls, an interrupted push resumed, and an object
corrupted in the remote refused on pull with an error that names it."""
from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from ci_run import GIT, clone, run
from helpers import BIN
from remote_servers import (Remote, dvc_remote_args, http_readonly, local_dir, moto_s3, s3_objects, slow_link, sshd,
                            webdav)

pytestmark = pytest.mark.remote  # the test tier (tests/conftest.py)

# Every DVC-tracked output of the ci profile (dvc.yaml): what a pull must bring back, byte for byte.
DVC_OUTPUTS = ["data/prepared", "data/tokenizer", "data/datasets", "data/generated", "data/conditions",
               "data/llm-cache", "models", "results/eval"]
LLM_CACHE = "data/llm-cache/smollm2-135m.jsonl"
DEFAULT_REMOTE = "regurgitative-dvc-remote"  # .dvc/config: ../../regurgitative-dvc-remote, beside the clone


def make(target: str, cwd: Path, *args: str, env: dict | None = None,
         check: bool = True) -> subprocess.CompletedProcess:
    """`make TARGET` in a clone, with this venv (no clone installs one: -o keeps the install stamp as it is)."""
    venv = BIN.parent
    cmd = ["make", "--no-print-directory", "-o", f"{venv}/.installed", f"VENV={venv}", target, *args]
    if check:
        return run(cmd, cwd, env=env)
    return subprocess.run(cmd, cwd=cwd, env={**os.environ, "PYTHONPATH": str(cwd / "src"), **(env or {})},
                          text=True, capture_output=True)


def dvc(cwd: Path, *args: str, env: dict | None = None) -> str:
    proc = run([BIN / "dvc", *args], cwd, env=env)
    return proc.stdout + proc.stderr


def settled_objects(s3: Remote) -> set[str]:
    """The bucket's objects once nothing more arrives (a request the server had whole when the line was cut may
    still be stored)."""
    objects = set(s3_objects(s3))
    while True:
        time.sleep(1)
        if (now := set(s3_objects(s3))) == objects:
            return objects
        objects = now


def pushed(output: str) -> int:
    m = re.search(r"(\d+) files? pushed", output)
    assert m, output
    return int(m[1])


def publisher(ci_run: Path, tmp: Path, *remotes: Remote) -> Path:
    """The machine that ran the pipeline: a clone with the ci run's cache, the remotes added and committed
    (secrets only in its .dvc/config.local)."""
    pub = clone(ci_run, tmp / "pub", with_cache=True)
    for remote in remotes:
        for args in dvc_remote_args(remote):
            run([BIN / "dvc", *args], pub)
    if remotes:
        run([*GIT, "commit", "-q", "-am", "remotes"], pub)
    return pub


def digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for d in DVC_OUTPUTS for p in sorted((root / d).rglob("*")) if p.is_file()}


def assert_complete(fresh: Path, ci_run: Path, redraw: bool = False) -> None:
    """Everything the ci run made is back and `dvc status` has nothing to do; with `redraw` (once per session:
    it does not depend on the remote) `dvc repro` runs nothing and `make figures` redraws from what was pulled."""
    assert digests(fresh) == digests(ci_run)
    assert (fresh / LLM_CACHE).stat().st_size > 1000
    assert "Data and pipelines are up to date." in dvc(fresh, "status")
    if not redraw:
        return
    out = dvc(fresh, "repro")
    assert "Data and pipelines are up to date." in out and "Running stage" not in out
    png = fresh / "paper/figures/bleu_vs_train_size.png"
    os.utime(png, (0, 0))
    make("figures", fresh)
    assert png.stat().st_mtime > 0 and png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 20_000


def assert_no_secret_committed(repo: Path, remote: Remote) -> None:
    committed = run(["git", "show", "HEAD:.dvc/config"], repo).stdout
    assert remote.name in committed
    for secret in [*remote.secrets.values(), *(v for k, v in remote.env.items() if "SECRET" in k)]:
        assert secret not in committed
    run(["git", "check-ignore", "-q", ".dvc/config.local"], repo)  # fails unless git ignores it


def test_the_default_remote_is_a_directory_beside_the_repository(ci_run, tmp_path):
    pub = publisher(ci_run, tmp_path)
    assert pushed(make("push", pub).stdout) > 20
    store = tmp_path / DEFAULT_REMOTE
    assert any((store / "files/md5").rglob("*.dir")) and not (pub / DEFAULT_REMOTE).exists()
    fresh = clone(pub, tmp_path / "fresh", with_cache=False)
    make("pull", fresh)
    assert_complete(fresh, ci_run, redraw=True)


SERVERS = {"s3": moto_s3, "ssh": sshd, "webdav": webdav}


@pytest.mark.parametrize("kind", SERVERS)
def test_push_to_a_server_then_pull_into_a_fresh_clone(kind, ci_run, tmp_path):
    with SERVERS[kind](tmp_path) as remote:
        pub = publisher(ci_run, tmp_path, remote)
        assert pushed(dvc(pub, "push", "-r", remote.name, env=remote.env)) > 20
        fresh = clone(pub, tmp_path / "fresh", with_cache=False)
        assert_no_secret_committed(fresh, remote)
        # Without the credentials (not in git), the server refuses: asked for one file (every file refused costs
        # S3's client seconds of retries), with no cloud's instance metadata service to ask instead.
        nothing = {**{k: "" for k in remote.env}, "AWS_EC2_METADATA_DISABLED": "true"}
        refused = subprocess.run([BIN / "dvc", "pull", "-r", remote.name, LLM_CACHE], cwd=fresh, text=True,
                                 capture_output=True, env={**os.environ, **nothing})
        assert refused.returncode != 0 and not (fresh / LLM_CACHE).exists(), refused.stdout + refused.stderr
        for key, value in remote.secrets.items():
            dvc(fresh, "remote", "modify", "--local", remote.name, key, value)
        make("pull", fresh, f"REMOTE={remote.name}", env=remote.env)
        assert_complete(fresh, ci_run)


def test_read_only_http_over_a_local_remotes_directory(ci_run, tmp_path):
    served = tmp_path / "served"
    with local_dir(served) as store, http_readonly(served, tmp_path) as http:
        pub = publisher(ci_run, tmp_path, store, http)
        dvc(pub, "push", "-r", store.name)
        fresh = clone(pub, tmp_path / "fresh", with_cache=False)
        make("pull", fresh, "REMOTE=http")
        assert_complete(fresh, ci_run)
        # Read-only: an object missing there (the LLM cache's) cannot be pushed through HTTP.
        md5 = hashlib.md5((ci_run / LLM_CACHE).read_bytes()).hexdigest()
        (served / f"files/md5/{md5[:2]}/{md5[2:]}").unlink()
        proc = subprocess.run([BIN / "dvc", "push", "-r", "http", LLM_CACHE], cwd=pub, capture_output=True, text=True)
        assert proc.returncode != 0 and "failed to push" in proc.stderr, proc.stdout + proc.stderr


def test_the_llm_response_cache_alone_and_partial_pulls(ci_run, tmp_path):
    pub = publisher(ci_run, tmp_path)
    assert pushed(dvc(pub, "push", LLM_CACHE)) == 1
    fresh = clone(pub, tmp_path / "fresh", with_cache=False)
    dvc(fresh, "pull", LLM_CACHE)
    assert (fresh / LLM_CACHE).read_bytes() == (ci_run / LLM_CACHE).read_bytes()
    assert not (fresh / "models/real").exists()

    make("push", pub)
    partial = clone(pub, tmp_path / "partial", with_cache=False)
    # Nothing to rerun, so nothing is pulled: stages whose outputs are only in the remote count as done.
    out = dvc(partial, "repro", "--pull", "--allow-missing")
    assert "Running stage" not in out and not (partial / "models/real").exists()
    # One run's model, by stage name.
    dvc(partial, "pull", "train@real-200-1")
    model = "models/real/200/seed1/checkpoint_best.pt"
    assert (partial / model).read_bytes() == (ci_run / model).read_bytes()
    assert not (partial / "models/real/100").exists() and not (partial / "results/eval").exists()


def test_an_interrupted_push_resumes_where_it_stopped(ci_run, tmp_path):
    # The link is slow enough that the whole push would take about 90 s, whatever the ci profile makes: DVC sends
    # objects in no set order, and a fixed rate let E10's 20 MB adapters alone outlast the wait for three objects.
    cache = sum(p.stat().st_size for p in (ci_run / ".dvc/cache").rglob("*") if p.is_file())
    with moto_s3(tmp_path) as s3, slow_link(s3.port, bytes_per_s=max(150_000, cache // 90)) as link:
        pub = publisher(ci_run, tmp_path, s3)
        dvc(pub, "remote", "modify", "--local", "s3", "endpointurl", f"http://127.0.0.1:{link.port}")
        push = subprocess.Popen([BIN / "dvc", "push", "-r", "s3", "-j", "1"], cwd=pub, env={**os.environ, **s3.env},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 120
        while len(s3_objects(s3)) < 3 and push.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        os.killpg(push.pid, signal.SIGKILL)  # a power cut: no clean-up of any kind,
        link.cut()  # and the line goes with it: what the push had written but not sent never arrives
        assert push.wait() == -signal.SIGKILL, "the push ended before it could be interrupted"
        before = settled_objects(s3)
        assert len(before) >= 3

        dvc(pub, "remote", "modify", "--local", "--unset", "s3", "endpointurl")  # the full-speed link again
        resumed = pushed(dvc(pub, "push", "-r", "s3", env=s3.env))
        after = set(s3_objects(s3))
        assert before < after and resumed == len(after - before)  # only what was missing went up

        fresh = clone(pub, tmp_path / "fresh", with_cache=False)
        make("pull", fresh, "REMOTE=s3", env=s3.env)
        assert_complete(fresh, ci_run)


def test_a_corrupted_object_in_the_remote_is_refused_on_pull_and_named(ci_run, tmp_path):
    pub = publisher(ci_run, tmp_path)
    make("push", pub)
    store = tmp_path / DEFAULT_REMOTE
    model = "models/real/200/seed1/checkpoint_best.pt"
    md5 = hashlib.md5((ci_run / model).read_bytes()).hexdigest()  # DVC names an object by its content's MD5
    oid = f"files/md5/{md5[:2]}/{md5[2:]}"
    victim = store / oid
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte, same size
    victim.unlink()  # a new file: the object may share its inode with a cache (hard links)
    victim.write_bytes(bytes(data))

    fresh = clone(pub, tmp_path / "fresh", with_cache=False)
    failed = make("pull", fresh, check=False)
    assert failed.returncode != 0
    error = failed.stderr
    assert "do not match their hash" in error and oid in error, error
    assert f"{oid}  {model}" in error, error  # and the file it holds

    # The remedy the error gives: delete what it lists from the remote, push again from a machine that has it.
    listed = re.findall(r"^  (files/md5/\S+)$", error.split("To repair")[1], re.M)
    assert oid in listed and any(p.endswith(".dir") for p in listed), error
    for path in listed:
        (store / path).unlink()
    assert pushed(make("push", pub).stdout) == len(listed)
    make("pull", fresh)
    assert_complete(fresh, ci_run)
