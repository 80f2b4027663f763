"""regurgitative/slurm.py against a real one-node Slurm (tests/slurm_cluster.py) on the scheduler's small DVC
pipeline (tests/test_scheduler.py): every stage a Slurm job, the same dvc.lock as a serial `dvc repro`, a failing
stage named with its log and its dependants never started, a job cancelled mid-stage and then only the rest rerun."""
from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from helpers import REPO
from slurm_cluster import slurm as slurm_cluster
from ci_run import E1_SLICE, GIT, copy_worktree
from remote_servers import dvc_remote_args, moto_s3, s3_objects
from test_scheduler import PIPELINE, dvc, interval, lock_stages, pipeline  # noqa: F401 (pipeline is a fixture)

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
def test_each_stage_kind_asks_for_its_resources_and_a_gpu_only_on_a_gpu_profile(tmp_path):
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
    # Without a shared filesystem: a clone of the commit on the node's scratch, the stage through the run cache.
    none = {**cfg, "filesystem": "none", "scratch": "/local"}
    script = slurm.job_script(scheduler.Stage("train@real-1000-1", ()), none, True, Path("/work/ws"),
                              ("https://git.example/lab/regurgitative.git", "0123abc"))
    assert "#SBATCH --output=/local/regurgitative-train@real-1000-1-%j.log" in script
    assert "git clone -q --no-checkout 'https://git.example/lab/regurgitative.git'" in script
    assert "git checkout -q --detach 0123abc" in script and "/work/ws" not in script
    assert script.rstrip().endswith("python -m regurgitative.runcache job 'train@real-1000-1'")
    bad = tmp_path / "cluster.yaml"
    bad.write_text(yaml.safe_dump({"slurm": {**SMALL["slurm"], "filesystem": "nfs"}}))
    with pytest.raises(slurm.ClusterError, match=r"slurm.filesystem is 'nfs'; expected one of shared, none"):
        slurm.load_cluster(bad)


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
    (root / "dvc.yaml").write_text((root / "dvc.yaml").read_text().replace("sleep 2", "sleep $((${item} * 4))"))
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


# The slice: ci_run.E1_SLICE, E1's two students at 100 pairs and everything they need, SmolLM2's llama.cpp server
# included, which the ci run made first with a serial `dvc repro`. Each job asks for the one core its stage uses
# (the ci profile's stages run one thread each, as the default's): two jobs run side by side on the test node's two
# cores. A job must not ask for fewer cores than its threads: two two-thread fairseq jobs on two cores spin-wait
# against each other (a student took 105 s instead of 11 s).
SLICE_CLUSTER = {"slurm": {"partition": None, "account": None,
                           "default": {"cpus": 1, "mem": "1500M", "time": "00:30:00"}}}


@pytest.mark.e2e
def test_a_ci_slice_from_an_empty_cache_runs_as_slurm_jobs_and_records_what_the_serial_ci_run_records(
        cluster, ci_run, tmp_path, monkeypatch):
    root = copy_worktree(tmp_path / "slice")          # the ci profile, no outputs, an empty DVC cache
    assert not (root / ".dvc/cache").exists()
    monkeypatch.chdir(root)
    for k, v in {**cluster.env(), "PYTHONPATH": str(root / "src")}.items():
        monkeypatch.setenv(k, v)
    (root / "cluster.yaml").write_text(yaml.safe_dump(SLICE_CLUSTER))
    before = len(cluster.finished_jobs())
    start = time.monotonic()
    slurm.main(E1_SLICE)   # submit, do not wait
    jobs = json.loads((root / "logs/slurm/submitted.json").read_text())
    planned = set(jobs)
    assert set(E1_SLICE) <= planned and "generate@smollm2-135m" in planned and "teacher@teacher-low" not in planned

    # A student killed mid-training: its evaluation never starts, the rest of the slice goes on.
    victim = "train@real-100-1"
    log = root / scheduler.log_path(victim)
    deadline = time.monotonic() + 900
    while not (log.exists() and "fairseq-train" in log.read_text()):   # its stage runs fairseq-train
        assert time.monotonic() < deadline, f"{victim} never started training"
        time.sleep(0.2)
    time.sleep(1)
    subprocess.run(["scancel", jobs[victim]], check=True)
    with pytest.raises(SystemExit) as e:
        slurm.main(["--gather", *E1_SLICE])
    assert f"{victim} CANCELLED" in str(e.value), str(e.value)
    assert "never started (an upstream job failed): evaluate@real-100-1" in str(e.value), str(e.value)
    first = time.monotonic() - start

    slurm.main(["--wait", *E1_SLICE])   # the same command again: only what did not finish
    assert set(json.loads((root / "logs/slurm/submitted.json").read_text())) == {victim, "evaluate@real-100-1"}
    print(f"ci slice through Slurm: {first:.0f} s until the gather after the cancel, "
          f"{time.monotonic() - start:.0f} s with the rerun ({len(planned)} stages)")

    # Every stage of the slice ran as a Slurm job (the controller's jobcomp records), completed at the end.
    ran = jobs_named(cluster, planned, before)
    assert {j["Name"] for j in ran if j["JobState"] == "COMPLETED"} == planned
    assert [j["JobState"] for j in ran if j["Name"] == victim] == ["CANCELLED", "COMPLETED"]
    # The same outputs as the serial `dvc repro` of the ci run, stage by stage: the same bytes.
    gathered, serial = lock_stages(root), lock_stages(ci_run)
    assert set(gathered) == planned
    for name in planned:
        if name.startswith("generate@"):
            continue
        assert gathered[name]["outs"] == serial[name]["outs"], name
    # The generator's outputs too, but for its cost record (results/generators/<g>.json counts the requests paid
    # and those answered from the response cache: what a run paid depends on what was cached before it)
    generate = "generate@smollm2-135m"
    stats = "results/generators/smollm2-135m.json"
    assert [o for o in gathered[generate]["outs"] if o["path"] != stats] == \
        [o for o in serial[generate]["outs"] if o["path"] != stats]
    cost = {"requests", "cache_hits", "cached_before", "prompt_tokens", "completion_tokens", "finish_reasons",
            "retried_bad_answers", "cost_usd"}
    assert ({k: v for k, v in json.loads((root / stats).read_text()).items() if k not in cost}
            == {k: v for k, v in json.loads((ci_run / stats).read_text()).items() if k not in cost})
    assert "up to date" in dvc("status", *E1_SLICE, cwd=root).stdout


# The scheduler's pipeline with the two kinds of stage DVC's run cache leaves out: one with a `persist: true` output
# (p: as generate@'s response cache) and one whose output is kept in git (t: `cache: false`, as the analyses' tables).
NO_SHARED_FS = PIPELINE.replace("cmd: echo a > a.txt", "cmd: cp seed.txt a.txt\n    deps: [seed.txt]").replace("""  c:
    cmd: cat b1.txt b2.txt > c.txt
    deps: [b1.txt, b2.txt]
""", """  p:
    cmd: cat a.txt >> p.cache && cp p.cache p.txt
    deps: [a.txt]
    outs: [p.txt, {p.cache: {persist: true}}]
  c:
    cmd: cat b1.txt b2.txt p.txt > c.txt
    deps: [b1.txt, b2.txt, p.txt]
""") + """  t:
    cmd: wc -l c.txt > t.csv
    deps: [c.txt]
    outs: [{t.csv: {cache: false}}]
"""


@pytest.mark.integration
def test_without_a_shared_filesystem_each_job_clones_the_commit_and_its_outputs_return_through_the_s3_run_cache(
        cluster, pipeline, tmp_path, monkeypatch):  # noqa: F811
    serial = pipeline("serial-none")
    (serial / "dvc.yaml").write_text(NO_SHARED_FS)
    root = pipeline("none")
    (root / "dvc.yaml").write_text(NO_SHARED_FS)
    for repo in (serial, root):   # DVC's run cache keeps only stages with dependencies
        (repo / "seed.txt").write_text("a\n")
    dvc("repro", cwd=serial)
    scratch = tmp_path / "scratch"      # the nodes' own disk: each job clones into it and removes its clone
    scratch.mkdir()
    (root / "cluster.yaml").write_text(yaml.safe_dump(
        {"slurm": {**SMALL["slurm"], "filesystem": "none", "scratch": str(scratch)}}))
    monkeypatch.chdir(root)
    for k, v in cluster.env().items():
        monkeypatch.setenv(k, v)
    with moto_s3(tmp_path) as s3:
        for k, v in s3.env.items():      # the credentials: in the environment of the jobs (sbatch exports it)
            monkeypatch.setenv(k, v)
        subprocess.run([*GIT, "add", "-A"], check=True)
        subprocess.run([*GIT, "commit", "-qm", "pipeline"], check=True)

        with pytest.raises(SystemExit, match="no git URL"):
            slurm.main(["--wait"])
        subprocess.run(["git", "clone", "-q", "--bare", ".", str(tmp_path / "origin.git")], check=True)
        subprocess.run(["git", "remote", "add", "origin", str(tmp_path / "origin.git")], check=True)
        subprocess.run([*GIT, "commit", "-q", "--allow-empty", "-m", "not pushed"], check=True)
        with pytest.raises(SystemExit, match="push it first"):
            slurm.main(["--wait"])
        subprocess.run(["git", "push", "-q", "origin", "HEAD:main"], check=True)
        with pytest.raises(SystemExit, match="no default DVC remote"):
            slurm.main(["--wait"])
        for cmd in dvc_remote_args(s3, default=True):
            dvc(*cmd, cwd=root)
        with pytest.raises(SystemExit, match="uncommitted changes"):
            slurm.main(["--wait"])
        subprocess.run([*GIT, "commit", "-qam", "remote"], check=True)
        subprocess.run(["git", "push", "-q", "origin", "HEAD:main"], check=True)

        # A failing stage: named with its log on its node, its dependants never start, what finished is restored.
        (scratch / "fail-2").write_text("")
        with pytest.raises(SystemExit) as e:
            slurm.main(["--wait"])
        message = str(e.value)
        assert re.search(r"b@2 FAILED \(log localhost:\S+/regurgitative-b@2-\d+\.log\)", message), message
        assert "never started (an upstream job failed): c, t" in message, message
        assert set(lock_stages(root)) == {"a", "b@1", "p"}
        (scratch / "fail-2").unlink()

        slurm.main(["--wait"])   # the same command again: only what did not finish, the rest from the run cache
        assert set(json.loads((root / "logs/slurm/submitted.json").read_text())) == {"b@2", "c", "t"}

        # Every stage ran once, in a clone of its own that is gone; the workspace computed none of them.
        logs = {p.name.removeprefix("regurgitative-").rsplit("-", 1)[0]: p.read_text()
                for p in scratch.glob("regurgitative-*.log")}
        assert set(logs) == {"a", "b@1", "b@2", "p", "c", "t"}
        for name, log in logs.items():
            assert f"Running stage '{name}'" in log, log
        assert "is cached - skipping run" in logs["c"]          # its upstream came from the run cache
        assert len((scratch / "times-1").read_text().split()) == 2   # b@1 ran once (start, end)
        assert not [p for p in scratch.glob("regurgitative-*") if p.is_dir()]
        assert lock_stages(root) == lock_stages(serial)
        assert "up to date" in dvc("status", cwd=root).stdout
        assert (root / "t.csv").read_text() == (serial / "t.csv").read_text()
        assert (root / "p.cache").read_text() == "a\n"
        assert any(k.startswith("ci/runs/") for k in s3_objects(s3))
