"""regurgitative/slurm.py against a real one-node Slurm (tests/slurm_cluster.py) on the scheduler's small DVC
pipeline (tests/test_scheduler.py): every stage a Slurm job, the same dvc.lock as a serial `dvc repro`, a failing
stage named with its log and its dependants never started, a job cancelled mid-stage and then only the rest rerun."""
from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from helpers import REPO
from slurm_cluster import slurm as slurm_cluster
from test_scheduler import dvc, interval, lock_stages, pipeline  # noqa: F401 (pipeline is a fixture)

from regurgitative import scheduler, slurm

SMALL = {"slurm": {"partition": None, "account": None, "default": {"cpus": 1, "mem": "100M", "time": "00:10:00"},
                   "kinds": {"b": {"cpus": 1, "mem": "100M", "time": "00:05:00", "gpus": 1}}}}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with slurm_cluster(tmp_path_factory.mktemp("cluster")) as c:
        yield c


@pytest.fixture
def on_cluster(cluster, pipeline, monkeypatch):  # noqa: F811
    def make(name: str) -> Path:
        root = pipeline(name)
        monkeypatch.chdir(root)
        for k, v in cluster.env().items():
            monkeypatch.setenv(k, v)
        (root / "cluster.yaml").write_text(yaml.safe_dump(SMALL))
        return root
    return make


def jobs_named(cluster, names: set[str], since: int = 0) -> list[dict]:
    return [j for j in cluster.finished_jobs()[since:] if j.get("Name") in names]


@pytest.mark.unit
def test_each_stage_kind_asks_for_its_resources_and_a_gpu_only_on_a_gpu_profile():
    cfg = slurm.load_cluster(REPO / "cluster.yaml")
    kinds = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert set(cfg["kinds"]) <= set(kinds), "cluster.yaml names stage kinds that dvc.yaml does not have"
    assert "--gres=gpu:1" in slurm.resources("train", cfg, gpu=True)
    assert not any(o.startswith("--gres") for o in slurm.resources("train", cfg, gpu=False))
    assert not any(o.startswith("--gres") for o in slurm.resources("aggregate", cfg, gpu=True))
    paper = yaml.safe_load((REPO / "profiles/paper.yaml").read_text())
    assert slurm.uses_gpu(paper) and not slurm.uses_gpu(yaml.safe_load((REPO / "params.yaml").read_text()))
    script = slurm.job_script(scheduler.Stage("train@real-1000-1", ("dataset@real-1000",)),
                              {**cfg, "gpu_partition": "gpu", "account": "lab"}, True, Path("/work/ws"))
    assert "#SBATCH --gres=gpu:1" in script and "#SBATCH --partition=gpu" in script
    assert "#SBATCH --account=lab" in script and "#SBATCH --chdir=/work/ws" in script
    assert script.startswith("#!/bin/bash\n") and "--single-item' 'train@real-1000-1'" in script


@pytest.mark.integration
def test_every_stage_is_a_slurm_job_and_dvc_lock_is_what_a_serial_repro_records(cluster, on_cluster,
                                                                                 pipeline):  # noqa: F811
    serial = pipeline("serial")
    dvc("repro", cwd=serial)
    root = on_cluster("slurm-all")
    before = len(cluster.finished_jobs())
    slurm.main(["--wait"])
    ran = jobs_named(cluster, {"a", "b@1", "b@2", "c"}, before)
    assert sorted(j["Name"] for j in ran) == ["a", "b@1", "b@2", "c"]
    assert {j["JobState"] for j in ran} == {"COMPLETED"}
    (s1, e1), (s2, e2) = interval(root, 1), interval(root, 2)
    assert s1 < e2 and s2 < e1, "b@1 and b@2 did not run side by side"
    assert lock_stages(root) == lock_stages(serial)
    assert "up to date" in dvc("status", cwd=root).stdout
    assert "--gres" not in (root / "logs/slurm/b@1.sh").read_text()   # no params.yaml: a CPU workspace


@pytest.mark.integration
def test_a_failing_stage_is_named_with_its_log_and_its_dependants_never_start(cluster, on_cluster):
    root = on_cluster("slurm-fail")
    (root.parent / "fail-2").write_text("")
    with pytest.raises(SystemExit) as e:
        slurm.main(["--wait"])
    message = str(e.value)
    assert "b@2 FAILED (log logs/stages/b@2.log)" in message, message
    assert "never started (an upstream job failed): c" in message, message
    assert not (root / "logs/stages/c.log").exists() and not (root / "c.txt").exists()
    assert set(lock_stages(root)) == {"a", "b@1"}


@pytest.mark.integration
def test_a_job_cancelled_mid_stage_reruns_alone_with_its_dependants(cluster, on_cluster):
    root = on_cluster("slurm-cancel")
    (root / "dvc.yaml").write_text((root / "dvc.yaml").read_text().replace("sleep 2", "sleep ${item}0"))
    slurm.main([])   # submit, do not wait
    jobs = json.loads((root / "logs/slurm/submitted.json").read_text())
    deadline = time.monotonic() + 60
    while not (root.parent / "times-1").exists():   # b@1's command has started
        assert time.monotonic() < deadline, "b@1 never started"
        time.sleep(0.2)
    subprocess.run(["scancel", jobs["b@1"]], check=True)
    with pytest.raises(SystemExit) as e:
        slurm.main(["--gather"])
    assert "b@1 CANCELLED" in str(e.value) and "never started (an upstream job failed): c" in str(e.value)
    assert set(lock_stages(root)) == {"a", "b@2"}
    b2_runs = len((root.parent / "times-2").read_text().split())
    slurm.main(["--wait"])
    assert set(json.loads((root / "logs/slurm/submitted.json").read_text())) == {"b@1", "c"}
    assert len((root.parent / "times-2").read_text().split()) == b2_runs   # b@2 did not run again
    assert set(lock_stages(root)) == {"a", "b@1", "b@2", "c"}


@pytest.mark.integration
def test_a_missing_cache_is_refused_before_anything_is_submitted(cluster, on_cluster):
    root = on_cluster("slurm-nocache")
    dvc("cache", "dir", "--local", str(root.parent / "no-such-cache"), cwd=root)
    with pytest.raises(SystemExit) as e:
        slurm.main(["--wait"])
    assert "no-such-cache" in str(e.value) and "missing or not writable" in str(e.value)
    assert not (root / "logs/slurm").exists()
