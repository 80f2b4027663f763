"""End to end: the ci profile through `dvc repro` in a temporary copy of the repository, with a real local LLM
(SmolLM2 served by llama-cpp-python on 127.0.0.1, called through the openai client), real fairseq training,
real sacreBLEU scoring and real figures."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from ci_run import clone, run
from helpers import BIN, REPO, sacrebleu_cli

from regurgitative.analysis.stats import NOT_LEARNED
from regurgitative.params import grid_runs

pytestmark = pytest.mark.e2e  # the test tier (tests/conftest.py)


@pytest.fixture(scope="module")
def repo(ci_run) -> Path:
    """The session's ci run (tests/conftest.py): a copy of the working tree, switched to the ci profile, after
    `dvc repro`."""
    return ci_run


def grid(repo: Path) -> list[tuple[str, int, int]]:
    """Every student of the ci grid: real and the generators at every size, the mitigations at theirs."""
    return grid_runs(yaml.safe_load((repo / "params.yaml").read_text()))


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


VERDICTS = {"holds", "does not hold", "inconclusive"}
# The family of comparisons each claim about students is decided on (report/findings.py); claims 4a and 4b are
# about the data themselves, and whether a student learned does not enter them.
CLAIM_FAMILIES = {"Claim 1": "E1-generated", "Claim 2": "E1-fraction", "Claim 3": "E1-generated",
                  "Claim 4a": None, "Claim 4b": None, "Claim 5": "mitigations",
                  "E9, claim A": "E9-collapse", "E9, claim B": "E9-real-data",
                  "E10, claim A": "E10-real", "E10, claim B": "E10-fraction"}


def claim_verdicts(findings_tex: str) -> dict[str, str]:
    """{'Claim 1': 'inconclusive', 'E9, claim A': 'holds', ...}: every claim's paragraph and its label, whatever
    the label says (a label outside the three verdicts must fail, not go unseen)."""
    return dict(re.findall(r"\\paragraph\{((?:Claim|E\d+, claim) \w+):[^}]*\(([^()]*)\)\.\}", findings_tex))


def assert_verdicts_follow_from_learning(verdicts: dict[str, str], significance: pd.DataFrame) -> None:
    """What holds on any run, whatever the numbers: every claim has one of the three verdicts, and a claim none of
    whose comparisons can decide (each one `not learned`: the group ahead, or one of two alike, did not learn) is
    inconclusive."""
    for claim, v in verdicts.items():
        assert v in VERDICTS, (claim, v)
        assert claim in CLAIM_FAMILIES, f"a claim this test does not know: {claim}"
        if CLAIM_FAMILIES[claim] is None:
            continue
        outcomes = significance.outcome[significance.family == CLAIM_FAMILIES[claim]]
        assert len(outcomes), (claim, CLAIM_FAMILIES[claim])
        assert v == "inconclusive" or (outcomes != NOT_LEARNED).any(), (claim, v, list(outcomes))


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
        assert len(hypotheses.read_text().splitlines()) == 120  # the user's own test set, taken whole
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
    assert metrics["requests"] == 290 and metrics["cache_hits"] == 0  # 200 pool + 30 test + 60 detector
    assert 0 < metrics["test_bleu"] < 100 and metrics["completion_tokens"] > 0


def test_the_teacher_learns_from_real_pairs_no_student_sees_and_translates_the_same_german(repo):
    real_de = (repo / "data/conditions/real/pool.de").read_text().splitlines()
    teacher = repo / "data/conditions/teacher-low"
    assert (teacher / "pool.de").read_text().splitlines() == real_de[:200]
    metrics = json.loads((repo / "results/generators/teacher-low.json").read_text())
    assert metrics["train_lines"] == [200, 300] and metrics["test_sentences"] == 30  # after the student pool
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
    for figure in ("errors", "diversity", "mitigations"):  # E3, E4, E5-E8
        assert (repo / f"paper/figures/{figure}.png").stat().st_size > 20_000, figure
        assert "\\begin{tabular}" in (repo / f"paper/tables/{figure}.tex").read_text(), figure


def test_make_figures_redraws_from_the_table_alone(repo, tmp_path):
    run([BIN / "python", "-m", "regurgitative.report.figures", "--out-dir", str(tmp_path)], repo)
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
    generated = repo / "data/generated/smollm2-135m"
    before = {p.name: p.read_bytes() for p in generated.iterdir()}
    items = (repo / "data/generated/smollm2-135m/items.jsonl").read_text()
    run([BIN / "dvc", "repro", "--force", "--single-item", "generate@smollm2-135m"], repo)
    metrics = json.loads((repo / "results/generators/smollm2-135m.json").read_text())
    assert metrics["requests"] == 0 and metrics["cache_hits"] == 290 and metrics["cached_before"] == 290
    assert (repo / "data/generated/smollm2-135m/items.jsonl").read_text() == items
    # byte for byte, server log included (it lives in logs/): the run stays what was pushed to a remote
    assert {p.name: p.read_bytes() for p in generated.iterdir()} == before


def test_mitigation_conditions_reorder_or_mix_generated_data_without_asking_anything(repo):
    real_de, real_en = lines(repo / "data/conditions/real/pool.de"), lines(repo / "data/conditions/real/pool.en")
    smol_en = lines(repo / "data/conditions/smollm2-135m/pool.en")
    teacher_en = lines(repo / "data/conditions/teacher-low/pool.en")
    # E6 and E8 keep the German of real, in its order; each English line is one source's translation of it
    mix = repo / "data/conditions/mix-ci"
    assert lines(mix / "pool.de") == real_de[:200]
    assert all(e in (s, t) for e, s, t in zip(lines(mix / "pool.en"), smol_en, teacher_en))
    assert [s["english_from"] for s in json.loads((mix / "sources.json").read_text())].count("teacher-low") == 100
    share = repo / "data/conditions/smollm2-135m-share-50"
    assert lines(share / "pool.de") == real_de[:200]
    assert lines(share / "pool.en")[0::2] == real_en[:200][0::2] and lines(share / "pool.en")[1::2] == smol_en[1::2]
    # E5: best agreement first, every sentence of the generator once
    ordered = repo / "data/conditions/smollm2-135m-by-agreement"
    scores = pd.read_csv(repo / "data/quality/smollm2-135m.csv")
    index = [s["index"] for s in json.loads((ordered / "sources.json").read_text())]
    assert sorted(index) == list(range(200))
    assert list(scores.agreement[index]) == sorted(scores.agreement, reverse=True)
    assert lines(ordered / "pool.de") == [real_de[i] for i in index]
    # the LLM was asked once per sentence, all by generate@: 200 pool + 30 test + 60 detector answers cached
    assert len(lines(repo / "data/llm-cache/smollm2-135m.jsonl")) == 290


def test_the_detector_never_sees_a_pool_test_or_teacher_sentence(repo):
    prepared = lines(repo / "data/prepared/pool.de")
    held = set(prepared[:300]) | set(lines(repo / "data/prepared/test.de"))  # students 0-199, teacher 200-299
    for g in ("smollm2-135m", "teacher-low"):
        items = [json.loads(x) for x in lines(repo / f"data/generated/{g}/items.jsonl")]
        detector_de = [it["de"] for it in items if it["split"] == "detector"]
        assert detector_de == prepared[-60:] and not set(detector_de) & held
    quality = json.loads((repo / "results/quality.json").read_text())
    assert 0 <= quality["smollm2-135m"]["detector_auc"] <= 1
    assert pd.read_csv(repo / "data/quality/smollm2-135m.csv").detector.between(0, 1).all()


def test_error_rates_diversity_and_significance_cover_every_condition(repo):
    errors = pd.read_csv(repo / "results/errors.csv")
    assert set(errors.condition) == {"real", "smollm2-135m", "teacher-low"}
    real = errors[errors.condition == "real"].set_index("indicator")
    assert not real.applies["low_quality"] and not real.applies["prompt_leftovers"] and real.applies["any"]
    assert (errors.dropna().ci_low <= errors.dropna().rate).all() and (errors.dropna().rate <= errors.dropna().ci_high).all()
    diversity = pd.read_csv(repo / "results/diversity.csv")
    assert {(c, n) for c, n, _ in grid(repo)} == set(zip(diversity.condition, diversity.train_size))
    significance = pd.read_csv(repo / "results/significance.csv")
    pairs = set(zip(significance.family, significance.a, significance.a_size, significance.b, significance.b_size))
    assert ("E1-generated", "real", 200, "smollm2-135m", 200) in pairs
    assert ("E1-fraction", "real", 100, "smollm2-135m", 200) in pairs
    assert ("mitigations", "mix-ci", 100, "smollm2-135m", 100) in pairs  # teacher-low has no E1 students in ci
    assert ("mitigations", "real", 100, "smollm2-135m-by-agreement", 100) in pairs
    assert ("E5-E7-split", "real-by-agreement-ci", 100, "smollm2-135m-by-agreement", 100) in pairs
    assert significance.p_value.between(0, 1).all() and (significance.p_holm >= significance.p_value).all()
    assert (significance.a_seeds == 2).all()   # one test per comparison, the seeds pooled
    intervals = pd.read_csv(repo / "results/intervals.csv")
    assert {(c, n) for c, n, _ in grid(repo)} == set(zip(intervals.condition, intervals.train_size))
    findings = (repo / "paper/findings/findings.tex").read_text()
    assert "Claim 1" in findings and "Claim 5" in findings
    # a difference decides only when the group ahead learned, equivalence only when both did
    ahead = significance.a_learned.where(significance.difference > 0, significance.b_learned).astype(bool)
    decided = significance.outcome.isin(["better", "worse"])
    assert ahead[decided].all()
    both = significance.a_learned.astype(bool) & significance.b_learned.astype(bool)
    assert both[significance.outcome.isin(["equivalent", "undecided"])].all()
    verdicts = {c: v for c, v in claim_verdicts(findings).items() if c.startswith("Claim")}  # E9's, E10's: below
    assert {"Claim 1", "Claim 2", "Claim 4a", "Claim 5"} <= set(verdicts)
    # students that do not learn decide no claim about students (4a and 4b are about data)
    assert_verdicts_follow_from_learning(verdicts, significance)
    assert "\\csname result@bleu/real/200\\endcsname" in (repo / "paper/findings/results.tex").read_text()


def test_adding_a_mitigation_condition_retrains_nothing_that_exists(repo):
    params = repo / "params.yaml"
    original = params.read_text()
    try:
        p = yaml.safe_load(original)
        p["mitigations"]["smollm2-135m-share-25"] = {"method": "share", "generator": "smollm2-135m", "share": 0.25}
        p["grid"]["mitigations"].append("smollm2-135m-share-25")
        params.write_text(yaml.safe_dump(p, sort_keys=False))
        stages = set(json.loads(run([BIN / "dvc", "status", "--json"], repo).stdout))
    finally:
        params.write_text(original)
    # (a mitigate@ stage of an existing condition, were it listed, would rebuild an identical pool: nothing
    # downstream of it would rerun; what must not appear is a dataset, train or evaluate stage that exists)
    assert "mitigate@smollm2-135m-share-25" in stages and not {"generate@smollm2-135m", "teacher@teacher-low"} & stages
    trained = {s for s in stages if s.startswith(("train", "evaluate", "dataset"))}
    assert trained == {"dataset-mitigation@smollm2-135m-share-25-100",
                       "train-mitigation@smollm2-135m-share-25-100-1", "train-mitigation@smollm2-135m-share-25-100-2",
                       "evaluate-mitigation@smollm2-135m-share-25-100-1",
                       "evaluate-mitigation@smollm2-135m-share-25-100-2"}, trained


def test_a_users_own_corpus_of_another_domain_runs_through_the_ci_profile(repo):
    """The ci profile runs on real text of another domain as a user brings it (Ding's everyday sentences,
    tests/data/ding/): two aligned files without document ids and their own held-out test files, taken whole,
    from prepare to scored students of real and of the LLM."""
    ding = REPO / "tests/data/ding"
    test_de = lines(ding / "test.de")
    stats = json.loads((repo / "data/prepared/stats.json").read_text())
    assert stats["source"] == "files"
    assert stats["test_pairs"] == len(test_de) == 120 and stats["valid_pairs"] == 50 and stats["pool_pairs"] == 660
    assert lines(repo / "data/prepared/test.de") == test_de
    assert set(lines(repo / "data/prepared/pool.de")) <= set(lines(ding / "ding.de"))
    assert not set(lines(repo / "data/prepared/pool.de")) & set(test_de)
    for run_name in ("real-200-1", "smollm2-135m-200-1"):
        metrics = json.loads((repo / "results/runs" / f"{run_name}.json").read_text())
        assert metrics["segments"] == 120 and 0 <= metrics["bleu"] <= 100


def test_a_corpus_outside_the_repository_is_a_dependency_of_prepare(repo, tmp_path):
    """corpus.files.dir may lie anywhere: prepare depends on that directory, so an edited line there makes
    prepare (and what follows) stale."""
    corpus = tmp_path / "my-corpus"
    corpus.mkdir()
    for name in ("ding.de", "ding.en", "test.de", "test.en"):
        (corpus / name).write_bytes((REPO / "tests/data/ding" / name).read_bytes())
    work = clone(repo, tmp_path / "clone", with_cache=True)
    params = yaml.safe_load((work / "params.yaml").read_text())
    params["corpus"]["files"]["dir"] = str(corpus)
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run([BIN / "dvc", "repro", "--single-item", "prepare"], work)
    assert lines(work / "data/prepared/test.de") == lines(corpus / "test.de")
    assert "prepare" not in run([BIN / "dvc", "status", "prepare"], work).stdout
    en = lines(corpus / "ding.en")
    (corpus / "ding.en").write_text("".join(s + "\n" for s in en[:-1]) + "An edited last line.\n", encoding="utf-8")
    assert "modified:" in run([BIN / "dvc", "status", "prepare"], work).stdout


# ------------------------------------------------------------------------------------------------ E9
def test_the_chain_trains_every_generation_of_every_regime_on_a_fresh_slice(repo):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    p, seeds = params["recursion"], params["grid"]["seeds"]
    size, start = p["size"], p["pool_start"]
    table = pd.read_csv(repo / "results/recursion.csv")
    generations = [0] + [link["generation"] for link in p["links"]]
    assert sorted(zip(table.regime, table.seed, table.generation)) == sorted(
        (r, s, g) for r in p["regimes"] for s in seeds for g in generations)
    pool_de = lines(repo / "data/prepared/pool.de")
    for r in p["regimes"]:
        g0 = repo / "data/recursion" / r / "seed1" / "g0"
        # generation 0 is E1's real student: its test translations are that run's
        assert lines(g0 / "test.en") == lines(repo / f"results/eval/real-{size}-1/hypotheses.en")
        for g in generations[1:]:
            d = repo / "data/recursion" / r / "seed1" / f"g{g}"
            train_lines = [int(x) for x in lines(d / "train.line")]
            new = train_lines[-size:]
            assert new == list(range(start + (g - 1) * size, start + g * size))  # a fresh slice
            assert [lines(d / "train.de")[i] for i in range(-size, 0)] == [pool_de[i] for i in new]
            # its English on that slice is what generation g-1 wrote (save the real share's lines)
            prev = repo / "data/recursion" / r / "seed1" / f"g{g - 1}"
            origin = lines(d / "train.origin")[-size:]
            generated = [e for e, o in zip(lines(d / "train.en")[-size:], origin) if o != "real"]
            assert generated == [e for e, o in zip(lines(prev / "next.en"), origin) if o != "real"]
            assert (d / "model/checkpoint_best.pt").exists() and (d / "model/train.sh").exists()
            assert not set(train_lines[-size:]) & set(range(size))  # never what generation 0 trained on
    rows = table[table.seed == 1].set_index(["regime", "generation"])
    for r, cfg in p["regimes"].items():   # each regime's settings, as recursion/generation.py describes them
        grows = cfg.get("accumulate", False)
        pairs = [size * (g + 1) if grows else size for g in generations]
        assert list(rows.loc[r].train_pairs) == pairs, r
        # each slice keeps its real share of human English; with `accumulate`, every earlier slice and generation
        # 0's pairs (real ones when the chain starts from real) stay in the data too
        kept, start_real = round(cfg.get("real_share", 0) * size), size if p["start"] == "real" else 0
        real = [kept * g + start_real if grows else kept for g in generations[1:]]
        assert list(rows.loc[r].real_share)[1:] == pytest.approx([k / n for k, n in zip(real, pairs[1:])]), r
    assert rows.loc[("replace", 1)].real_share == 0
    for col in ("bleu", "mtld", "tail_1", "any_error", "length_ratio", "vocabulary"):
        assert table[col].notna().all(), col


def test_the_chain_is_scored_tested_and_drawn(repo):
    intervals = pd.read_csv(repo / "results/recursion-intervals.csv")
    sig = pd.read_csv(repo / "results/recursion-significance.csv")
    assert (intervals.ci_low <= intervals.bleu).all() and (intervals.bleu <= intervals.ci_high).all()
    last = intervals.generation.max()
    assert set(sig[sig.family == "E9-collapse"].b_generation) == set(range(1, last + 1))
    regimes = yaml.safe_load((repo / "params.yaml").read_text())["recursion"]["regimes"]
    keeps_real = {r for r, c in regimes.items() if c.get("accumulate") or c.get("real_share", 0) > 0}
    assert keeps_real and {(r.a, r.b) for r in sig[sig.family == "E9-real-data"].itertuples()} == {
        (r, "replace") for r in keeps_real}
    assert (sig.p_holm >= sig.p_value).all()
    assert (repo / "paper/figures/recursion.png").stat().st_size > 10_000
    assert all(r in (repo / "paper/tables/recursion.md").read_text() for r in regimes)
    findings = (repo / "paper/findings/findings.md").read_text()
    assert "E9, claim A" in findings and "E9, claim B" in findings
    verdicts = {c: v for c, v in claim_verdicts((repo / "paper/findings/findings.tex").read_text()).items()
                if c.startswith("E9")}
    assert set(verdicts) == {"E9, claim A", "E9, claim B"}
    assert_verdicts_follow_from_learning(verdicts, sig)


def test_a_longer_chain_runs_only_the_new_generation(repo):
    params = repo / "params.yaml"
    original = params.read_text()
    try:
        p = yaml.safe_load(original)
        last = len(p["recursion"]["links"])
        p["recursion"]["links"].append({"generation": last + 1, "learns_from": last})
        params.write_text(yaml.safe_dump(p, sort_keys=False))
        stages = set(json.loads(run([BIN / "dvc", "status", "--json"], repo).stdout))
    finally:
        params.write_text(original)
    assert {s for s in stages if s.startswith("recursion")} == {
        f"recursion@{r}-{s}-link{last}" for r in p["recursion"]["regimes"] for s in (1, 2)}, stages


def test_the_llm_is_fine_tuned_on_every_condition_scored_tested_and_drawn(repo, tmp_path):
    """E10 on the ci grid: SmolLM2 fine-tuned with LoRA on real, self and other English at two sizes."""
    p = yaml.safe_load((repo / "params.yaml").read_text())["finetune"]
    runs = pd.read_csv(repo / "results/finetune.csv")
    assert len(runs) == 2 + len(p["conditions"]) * len(p["sizes"]) * len(p["seeds"])   # + base zero/few-shot
    assert set(runs.role) == {"base", "real", "self", "other"}
    for r in runs[runs.role != "base"].itertuples():
        name = f"{r.condition}-{r.size}-seed{int(r.seed)}"
        adapter = repo / "models/finetune" / name
        training = json.loads((adapter / "training.json").read_text())
        assert (adapter / "adapter_model.safetensors").stat().st_size > 100_000
        assert training["seed"] == int(r.seed) and training["examples"] == r.size
        assert training["hyperparameters"]["lora_r"] == p["local"].get("lora_r", 16)
        assert {"torch", "transformers", "peft", "device"} <= set(training["environment"])
        hyps = repo / "results/finetune" / name / "test.en"
        refs = repo / "data/prepared/test.en"
        assert len(lines(hyps)) == p["test_size"]
        # BLEU is sacreBLEU's on the saved translations and the first test_size references
        cut = tmp_path / "refs.en"
        cut.write_text("".join(x + "\n" for x in lines(refs)[:p["test_size"]]), encoding="utf-8")
        assert sacrebleu_cli(cut, hyps)["BLEU"] == pytest.approx(r.bleu, abs=1e-4)
    sig = pd.read_csv(repo / "results/finetune-significance.csv")
    assert set(sig.family) == {"E10-real", "E10-fraction", "E10-fine-tuning"}
    assert (sig.p_holm >= sig.p_value).all()
    assert (repo / "paper/figures/finetune.png").stat().st_size > 10_000
    assert "E10, claim A" in (repo / "paper/findings/findings.md").read_text()
    verdicts = {c: v for c, v in claim_verdicts((repo / "paper/findings/findings.tex").read_text()).items()
                if c.startswith("E10")}
    assert set(verdicts) == {"E10, claim A", "E10, claim B"}
    assert_verdicts_follow_from_learning(verdicts, sig)
