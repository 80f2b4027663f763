"""The scheduler (regurgitative/scheduler.py) on a small real DVC pipeline: two independent stages that sleep,
one that joins them. It must run the two side by side, record in dvc.lock what a serial `dvc repro` records, stop
the dependants of a failing stage and name it with its log, and on a rerun run only what did not finish."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from regurgitative import scheduler

PIPELINE = """\
stages:
  a:
    cmd: echo a > a.txt
    outs: [a.txt]
  b:
    foreach: [1, 2]
    do:
      cmd: date +%s.%N >> ../times-${item} && test ! -e ../fail-${item} && sleep 2 && cat a.txt > b${item}.txt && echo ${item} >> b${item}.txt && date +%s.%N >> ../times-${item}
      deps: [a.txt]
      outs: ["b${item}.txt"]
  c:
    cmd: cat b1.txt b2.txt > c.txt
    deps: [b1.txt, b2.txt]
    outs: [c.txt]
"""


def dvc(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, check=True, capture_output=True, text=True)


@pytest.fixture
def pipeline(tmp_path, monkeypatch):
    """A fresh git + DVC repository holding PIPELINE, as the working directory."""
    def make(name: str):
        root = tmp_path / name / "repo"
        root.mkdir(parents=True)
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
        dvc("init", "-q", cwd=root)
        dvc("config", "core.analytics", "false", cwd=root)
        (root / "dvc.yaml").write_text(PIPELINE)
        return root
    return make


def lock_stages(root) -> dict:
    return yaml.safe_load((root / "dvc.lock").read_text())["stages"]


def interval(root, item: int) -> tuple[float, float]:
    start, end = [float(x) for x in (root.parent / f"times-{item}").read_text().split()[-2:]]
    return start, end


@pytest.mark.integration
def test_the_plan_puts_every_stage_after_its_upstream_and_only_what_must_run(pipeline, monkeypatch):
    root = pipeline("plan")
    monkeypatch.chdir(root)
    stages = scheduler.plan()
    assert [s.name for s in stages] == ["a", "b@1", "b@2", "c"]
    assert {s.name: s.upstream for s in stages} == {"a": (), "b@1": ("a",), "b@2": ("a",), "c": ("b@1", "b@2")}
    assert [s.kind for s in stages] == ["a", "b", "b", "c"]
    assert [s.name for s in scheduler.plan(".", ["b@1"])] == ["a", "b@1"]
    dvc("repro", "a", cwd=root)
    assert [s.name for s in scheduler.plan()] == ["b@1", "b@2", "c"]
    # what is ready, and what a failure blocks
    assert [s.name for s in scheduler.ready(stages, set(), set(), set())] == ["a"]
    assert [s.name for s in scheduler.ready(stages, {"a"}, {"a"}, set())] == ["b@1", "b@2"]
    assert scheduler.downstream_counts(stages) == {"a": 3, "b@1": 1, "b@2": 1, "c": 0}
    longer = stages + [scheduler.Stage("d", ("b@2",))]   # b@2 now has more waiting for it: it goes first
    assert [s.name for s in scheduler.ready(longer, {"a"}, {"a"}, set())] == ["b@2", "b@1"]
    assert scheduler.blocked(stages, {"b@2"}) == {"c"}
    assert scheduler.blocked(stages, {"a"}) == {"b@1", "b@2", "c"}


@pytest.mark.integration
def test_two_jobs_run_independent_stages_side_by_side_and_record_what_a_serial_repro_records(pipeline, monkeypatch):
    serial = pipeline("serial")
    dvc("repro", cwd=serial)
    parallel = pipeline("parallel")
    monkeypatch.chdir(parallel)
    scheduler.main(["--jobs", "2"])
    (s1, e1), (s2, e2) = interval(parallel, 1), interval(parallel, 2)
    assert s1 < e2 and s2 < e1, "b@1 and b@2 did not run at the same time"
    assert lock_stages(parallel) == lock_stages(serial)
    assert "up to date" in dvc("status", cwd=parallel).stdout
    assert scheduler.plan() == []   # nothing left: a plain `dvc repro` after it does nothing


@pytest.mark.integration
def test_a_failing_stage_stops_its_dependants_names_its_log_and_a_rerun_runs_only_the_rest(pipeline, monkeypatch):
    root = pipeline("failing")
    monkeypatch.chdir(root)
    (root.parent / "fail-2").write_text("")
    with pytest.raises(SystemExit) as e:
        scheduler.main(["--jobs", "2"])
    message = str(e.value)
    assert "failed: b@2 (log logs/stages/b@2.log)" in message and "not started" in message and "c" in message
    assert (root / "logs/stages/b@2.log").exists()
    assert not (root / "c.txt").exists()
    assert set(lock_stages(root)) == {"a", "b@1"}
    os.remove(root.parent / "fail-2")
    assert [s.name for s in scheduler.plan()] == ["b@2", "c"]
    runs_of_1 = len((root.parent / "times-1").read_text().split())
    scheduler.main(["--jobs", "2"])
    assert len((root.parent / "times-1").read_text().split()) == runs_of_1   # b@1 did not run again
    assert set(lock_stages(root)) == {"a", "b@1", "b@2", "c"}
    assert (root / "c.txt").read_text() == "a\n1\na\n2\n"
