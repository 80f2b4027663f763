"""The committed results are current: dvc.lock records, for every stage of params.yaml's profile, the command, the
params and the dependencies that the repository holds now. A code or params change that a stage depends on,
committed without rerunning the default, makes `dvc status` list that stage as changed, and this test fails.

Outputs that are absent (a fresh clone has no data/, models/ or DVC cache) and dependencies that are such outputs
are fine: `dvc status` calls them deleted, and they live in the cache or a remote (`make pull`)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[1]


def stale_stages(status: dict) -> dict[str, list[str]]:
    """Per stage, what `dvc status --json` says changed beyond absent files: its command, its params, or a
    dependency that exists and differs from dvc.lock (modified) or that dvc.lock does not know (new)."""
    stale: dict[str, list[str]] = {}
    for stage, changes in status.items():
        reasons = []
        for change in changes:
            if change == "changed command" or change == "always changed":
                reasons.append(change)
            elif isinstance(change, dict):
                for key, files in change.items():
                    if key == "changed deps":
                        reasons += [f"dep {path}: {state}" for path, state in files.items() if state != "deleted"]
                    elif key == "changed params" or key == "changed command":
                        reasons.append(f"{key}: {files}")
        if reasons:
            stale[stage] = reasons
    return stale


def test_stale_stages_reads_dvc_status() -> None:
    status = {"train@a": [{"changed deps": {"models/x": "deleted"}}, {"changed outs": {"models/y": "deleted"}}],
              "train@b": ["changed command"],
              "tokenizer": [{"changed deps": {"src/regurgitative/students/tokenizer.py": "modified"}}],
              "prepare": [{"changed deps": {"params.yaml": {"split.seed": "modified"}}}],
              "figures": [{"changed params": {"params.yaml": {"grid": "modified"}}}]}
    assert set(stale_stages(status)) == {"train@b", "tokenizer", "prepare", "figures"}


# The committed results are one `make repro` of the default at the commit that carries them: a change to a stage's
# code, params or inputs fails here until the default is rerun and its results committed.
@pytest.mark.skipif(not (REPO / "dvc.lock").exists(), reason="no dvc.lock committed")
def test_committed_dvc_lock_is_current() -> None:
    dvc = shutil.which("dvc", path=str(Path(sys.executable).parent)) or shutil.which("dvc")
    assert dvc, "dvc is not installed in the venv"
    out = subprocess.run([dvc, "status", "--json"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    stale = stale_stages(json.loads(out.stdout or "{}"))
    assert not stale, ("dvc.lock is stale: rerun the default (`make repro`) and commit its results; "
                       + "; ".join(f"{s}: {', '.join(r[:3])}" for s, r in sorted(stale.items())[:10]))
