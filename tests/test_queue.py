"""Parallel grids on the session's ci run: experiments queued with `dvc exp run --queue` and run by
`dvc queue start -j 2`; and a grid spread over "machines" (clones with their own caches) that share one DVC
remote and meet through DVC's run cache. To stay cheap nothing here trains: the experiments drop a seed (only
the stages that read the grid run again), and the machines share new datasets."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from ci_run import GIT, clone, run
from helpers import BIN

pytestmark = pytest.mark.remote  # the test tier (tests/conftest.py)


def dvc(cwd: Path, *args: str) -> str:
    proc = run([BIN / "dvc", *args], cwd, timeout=1800)
    return proc.stdout + proc.stderr


def wait_for_the_queue(repo: Path, timeout: float = 1800) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = dvc(repo, "queue", "status")
        if not any(word in status for word in ("Queued", "Running")):
            return status
        time.sleep(3)
    raise AssertionError(f"the queue did not finish in {timeout} s:\n{status}")


def experiments(repo: Path) -> dict[str, dict]:
    """`dvc exp show --json`, as {experiment name: its data (params, metrics)}."""
    rows = json.loads(dvc(repo, "exp", "show", "--json"))
    return {rev["name"]: rev["data"] for row in rows for exp in (row.get("experiments") or [])
            for rev in exp["revs"] if rev.get("name")}


def test_queued_experiments_run_in_parallel_and_show_their_metrics(ci_run, tmp_path):
    repo = clone(ci_run, tmp_path / "exp", with_cache=True)
    for seed in (1, 2):
        dvc(repo, "exp", "run", "--queue", "--name", f"only-seed-{seed}", "-S", f"grid.seeds=[{seed}]")
    try:
        dvc(repo, "queue", "start", "-j", "2")
        status = wait_for_the_queue(repo)
    finally:
        dvc(repo, "queue", "stop", "--kill")
    assert status.count("Success") == 2, status

    exps = experiments(repo)
    for seed, other in ((1, 2), (2, 1)):
        data = exps[f"only-seed-{seed}"]
        assert data["params"]["params.yaml"]["data"]["grid"]["seeds"] == [seed]
        metrics = data["metrics"]
        assert f"results/runs/real-100-{seed}.json" in metrics and f"results/runs/real-100-{other}.json" not in metrics
        # The experiment's summary is over its one seed: its mean is that run's BLEU.
        real_100 = metrics["results/summary.json"]["data"]["real"]["100"]
        bleu = json.loads((ci_run / f"results/runs/real-100-{seed}.json").read_text())["bleu"]
        assert real_100["seeds"] == 1 and real_100["bleu_mean"] == pytest.approx(bleu, abs=0.01)
    # Experiments ran in temporary copies: the workspace keeps its parameters.
    assert yaml.safe_load((repo / "params.yaml").read_text())["grid"]["seeds"] == [1, 2]


def test_a_grid_spread_over_machines_meets_through_the_run_cache(ci_run, tmp_path):
    # New grid points everyone shares (one commit of a git remote); the ci run's artefacts are on the shared DVC
    # remote (.dvc/config's default: a directory beside the clones).
    origin = clone(ci_run, tmp_path / "origin", with_cache=True)
    dvc(origin, "push")
    params = yaml.safe_load((origin / "params.yaml").read_text())
    params["grid"]["train_sizes"] = [100, 150]
    (origin / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run([*GIT, "commit", "-q", "-am", "size 150"], origin)

    # Each machine runs its share of the new grid points and publishes it with the run cache. (The cheapest grid
    # stage, a dataset, stands in for train and evaluate: the run cache treats them alike. aggregate and figures,
    # whose tables are kept in git, are outside the run cache: the machine that collects runs them.)
    shares = {"a": "dataset@real-150", "b": "dataset@smollm2-135m-150"}
    for machine, stage in shares.items():
        m = clone(origin, tmp_path / machine, with_cache=False)
        assert f"Running stage '{stage}'" in dvc(m, "repro", "--pull", "--allow-missing", stage)
        dvc(m, "push", "--run-cache")

    # The machine that collects takes every share from the remote instead of running it again.
    c = clone(origin, tmp_path / "c", with_cache=False)
    dvc(c, "fetch", "--run-cache")  # fetch, not pull: the new stages have no dvc.lock entry to check out yet
    out = dvc(c, "repro", "--pull", "--allow-missing", *shares.values())
    assert "Running stage" not in out, out
    for machine, stage in shares.items():
        assert f"Stage '{stage}' is cached - skipping run" in out
        data = Path("data/datasets", *stage.removeprefix("dataset@").rsplit("-", 1))
        made = sorted(p.relative_to(tmp_path / machine) for p in (tmp_path / machine / data).rglob("*") if p.is_file())
        assert made and all((c / p).read_bytes() == (tmp_path / machine / p).read_bytes() for p in made)
