"""End to end: the ci profile through `dvc repro` in a temporary copy of the repository, with a real local LLM
(SmolLM2 served by llama-cpp-python on 127.0.0.1, called through the openai client), real fairseq training,
real sacreBLEU scoring and real figures."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import BIN, REPO, sacrebleu_cli

pytestmark = pytest.mark.e2e

GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@localhost", "-c", "init.defaultBranch=main"]


def run(cmd: list[str], cwd: Path, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(cwd / "src")}
    proc = subprocess.run(cmd, cwd=cwd, env=env, text=True, capture_output=True, **kw)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A copy of the working tree (what git would commit), switched to the ci profile, after `dvc repro`."""
    root = tmp_path_factory.mktemp("e2e") / "repo"
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, files):
        src = REPO / name
        if src.is_file():  # skip files deleted in the working tree
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, root / name)
    for tracked_output in ("results", "paper/figures"):  # start from nothing the pipeline makes
        shutil.rmtree(root / tracked_output, ignore_errors=True)
    run([*GIT, "init", "-q"], root)
    run([BIN / "python", "-m", "regurgitative.profile", "ci"], root)
    run([*GIT, "add", "-A"], root)
    run([*GIT, "commit", "-q", "-m", "ci profile"], root)
    start = time.perf_counter()
    run([BIN / "dvc", "repro"], root, timeout=900)
    print(f"ci profile: dvc repro took {time.perf_counter() - start:.0f} s")
    return root


def grid(repo: Path) -> list[tuple[str, int, int]]:
    g = yaml.safe_load((repo / "params.yaml").read_text())["grid"]
    return [(c, n, s) for c in g["conditions"] for n in g["train_sizes"] for s in g["seeds"]]


def test_every_run_has_a_model_and_its_exact_command(repo):
    for condition, size, seed in grid(repo):
        model = repo / "models" / condition / str(size) / f"seed{seed}"
        assert (model / "checkpoint_best.pt").stat().st_size > 10_000
        command = (model / "train.sh").read_text()
        assert f"fairseq-train data/datasets/{condition}/{size} " in command and f"--seed {seed} " in command
        assert json.loads((model / "train.json").read_text())["updates"] > 0


def test_bleu_equals_sacrebleu_on_the_saved_hypotheses(repo):
    for condition, size, seed in grid(repo):
        run_name = f"{condition}-{size}-{seed}"
        metrics = json.loads((repo / "results/runs" / f"{run_name}.json").read_text())
        hypotheses = repo / "results/eval" / run_name / "hypotheses.en"
        assert len(hypotheses.read_text().splitlines()) == 100
        cli = sacrebleu_cli(repo / "data/prepared/test.en", hypotheses)
        assert metrics["bleu"] == pytest.approx(cli["BLEU"], abs=1e-4)
        assert metrics["chrf"] == pytest.approx(cli["chrF2"], abs=1e-4)
        assert "fairseq-generate data/tokenizer/bin" in (repo / "results/eval" / run_name / "generate.sh").read_text()


def test_the_generated_condition_has_the_german_of_real_and_the_llms_english(repo):
    real_de = (repo / "data/conditions/real/pool.de").read_text().splitlines()
    real_en = (repo / "data/conditions/real/pool.en").read_text().splitlines()
    gen = repo / "data/conditions/smollm2-135m"
    gen_de, gen_en = (gen / "pool.de").read_text().splitlines(), (gen / "pool.en").read_text().splitlines()
    assert gen_de == real_de[:200] and len(gen_en) == 200
    assert sum(g == r for g, r in zip(gen_en, real_en)) < 20  # the English is the model's, not the reference
    items = [json.loads(x) for x in (repo / "data/generated/smollm2-135m/items.jsonl").read_text().splitlines()]
    assert [it["text"] for it in items if it["split"] == "pool"] == gen_en
    assert all(it["messages"][-1]["content"] == it["de"] for it in items)  # the exact prompt is recorded
    metrics = json.loads((repo / "results/generators/smollm2-135m.json").read_text())
    assert metrics["requests"] == 300 and metrics["cache_hits"] == 0  # 200 pool + 100 test sentences
    assert 0 < metrics["test_bleu"] < 100 and metrics["completion_tokens"] > 0


def test_the_teacher_learns_from_real_pairs_no_student_sees_and_translates_the_same_german(repo):
    real_de = (repo / "data/conditions/real/pool.de").read_text().splitlines()
    teacher = repo / "data/conditions/teacher-low"
    assert (teacher / "pool.de").read_text().splitlines() == real_de[:200]
    metrics = json.loads((repo / "results/generators/teacher-low.json").read_text())
    assert metrics["train_lines"] == [200, 300] and metrics["test_sentences"] == 100  # after the student pool
    command = (repo / "models/teachers/teacher-low/translate-pool.sh").read_text()
    assert "fairseq-interactive" in command and "--beam 5" in command
    items = [json.loads(x) for x in (repo / "data/generated/teacher-low/items.jsonl").read_text().splitlines()]
    assert all(it["mean_logprob"] < 0 for it in items)  # the teacher's confidence, a natural-log mean


def test_aggregate_table_has_every_run_and_the_baseline(repo):
    table = pd.read_csv(repo / "results/bleu.csv")
    students = table[table.kind == "student"]
    assert sorted(zip(students.condition, students.train_size, students.seed)) == sorted(grid(repo))
    assert list(table[table.kind == "baseline"].condition) == ["copy_source"]
    assert students.bleu.between(0, 100).all() and students.chrf.gt(0).all()


def test_figures_and_tables_are_drawn(repo):
    png = repo / "paper/figures/bleu_vs_train_size.png"
    pdf = repo / "paper/figures/bleu_vs_train_size.pdf"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 5_000
    generators = pd.read_csv(repo / "results/generators.csv")
    assert list(generators.generator) == ["smollm2-135m", "teacher-low"]
    assert "smollm2-135m" in (repo / "paper/tables/generator_quality.md").read_text()
    assert "\\begin{tabular}" in (repo / "paper/tables/generator_quality.tex").read_text()


def test_make_figures_redraws_from_the_table_alone(repo, tmp_path):
    run([BIN / "python", "-m", "regurgitative.figures", "--out-dir", str(tmp_path)], repo)
    assert (tmp_path / "bleu_vs_train_size.png").stat().st_size > 20_000


def test_a_second_repro_has_nothing_to_do(repo):
    start = time.perf_counter()
    out = run([BIN / "dvc", "repro"], repo).stdout
    assert "Data and pipelines are up to date." in out
    assert "Running stage" not in out
    print(f"no-op dvc repro: {time.perf_counter() - start:.1f} s")


def test_metrics_and_plots_show(repo):
    out = run([BIN / "dvc", "metrics", "show"], repo).stdout
    assert "results/runs/real-200-1.json" in out and "results/baselines.json" in out
    assert "results/generators/smollm2-135m.json" in out
    run([BIN / "dvc", "plots", "show", "-o", "dvc_plots"], repo)
    assert (repo / "dvc_plots/index.html").stat().st_size > 1000


def test_changing_one_size_reruns_only_that_size(repo):
    params = repo / "params.yaml"
    original = params.read_text()
    try:
        p = yaml.safe_load(original)
        p["grid"]["train_sizes"] = [100, 150]
        params.write_text(yaml.safe_dump(p, sort_keys=False))
        # `dvc status` names the stages a repro would run, without running them (`repro --dry` cannot: it
        # stops at the first stage whose input another stage has yet to make).
        stages = set(json.loads(run([BIN / "dvc", "status", "--json"], repo).stdout))
    finally:
        params.write_text(original)
    assert {"dataset@real-150", "train@real-150-1", "train@real-150-2", "evaluate@real-150-1",
            "dataset@smollm2-135m-150", "train@smollm2-135m-150-2"} <= stages
    assert not any("-100" in s for s in stages), stages
    assert not {"prepare", "tokenizer", "baseline", "generate@smollm2-135m", "teacher@teacher-low"} & stages


def test_a_forced_rerun_of_generation_asks_the_llm_nothing(repo):
    items = (repo / "data/generated/smollm2-135m/items.jsonl").read_text()
    run([BIN / "dvc", "repro", "--force", "--single-item", "generate@smollm2-135m"], repo)
    metrics = json.loads((repo / "results/generators/smollm2-135m.json").read_text())
    assert metrics["requests"] == 0 and metrics["cache_hits"] == 300 and metrics["cached_before"] == 300
    assert (repo / "data/generated/smollm2-135m/items.jsonl").read_text() == items
