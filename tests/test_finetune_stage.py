"""E10's stages (finetune.py, finetune_compare.py) with the `openai` backend against the stand-in for OpenAI's
fine-tuning service on 127.0.0.1 (tests/openai_finetune_server.py): a run fine-tunes on the condition's first
pairs, its `ft:` model translates the test set through generation's openai-client code and is scored; a re-run
uploads, trains and asks nothing; the dry run prices the grid without sending anything; E10 switched off costs
nothing and leaves empty tables."""
from __future__ import annotations

import json

import pytest
import yaml
from openai_finetune_server import BASE_MODELS, FineTuneServer

from regurgitative.finetune import train as finetune
from regurgitative.finetune import compare as finetune_compare
from regurgitative.finetune import openai_api as finetune_openai

pytestmark = pytest.mark.integration  # the test tier (tests/conftest.py)

SYSTEM = "Translate the German sentence into English. Answer with the translation only."
PAIRS = [("Klicken Sie auf Speichern.", "Click Save."), ("Das Dokument ist leer.", "The document is empty."),
         ("Wählen Sie eine Datei.", "Choose a file."), ("Schließen Sie das Fenster.", "Close the window.")]


def workspace(root, base_url: str, conditions=("real",)) -> None:
    """A repository's worth of inputs: prepared splits, the real condition, params for the openai backend. The
    test set holds the training sentences, so a model that learned its data scores 100 BLEU on them."""
    for folder, pairs in (("data/prepared/pool", PAIRS), ("data/prepared/valid", PAIRS[:2]),
                          ("data/prepared/test", PAIRS[:3]), ("data/conditions/real/pool", PAIRS)):
        path = root / folder
        path.parent.mkdir(parents=True, exist_ok=True)
        for k, lang in enumerate(("de", "en")):
            path.with_name(f"{path.name}.{lang}").write_text("".join(p[k] + "\n" for p in pairs), encoding="utf-8")
    (root / "data/prepared/valid.doc").write_text("d1\nd2\n")
    params = {
        "generators": {"gpt-test": {"kind": "openai", "base_url": base_url, "api_key_env": "E10_TEST_KEY",
                                    "model": BASE_MODELS[0], "api": "chat", "prompt": "instruct",
                                    "decoding": {"max_tokens": 64, "temperature": 0.0}}},
        "prompts": {"instruct": {"shots": 1, "system": SYSTEM, "user": "{de}"}},
        "generate": {"concurrency": 2, "timeout_seconds": 10, "max_retries": 1, "request_seconds": 30},
        "significance": {"resamples": 200, "seed": 1, "alpha": 0.05, "equivalence_margin": 1.0,
                         "learned": {"bleu_absolute": 5.0, "bleu_copy_factor": 1.5, "chrf_absolute": 25.0,
                                     "chrf_copy_margin": 3.0}},
        "finetune": {"backend": "openai", "base": "gpt-test", "conditions": list(conditions), "sizes": [3],
                     "seeds": [1], "test_size": 3,
                     "openai": {"model": BASE_MODELS[0], "hyperparameters": {"n_epochs": 2},
                                "price_per_million_training_tokens": 3.0, "suffix": "e10", "poll_seconds": 0.01,
                                "timeout_seconds": 30}}}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("E10_TEST_KEY", "sk-test")
    return tmp_path


def test_a_run_fine_tunes_translates_scores_and_never_pays_twice(repo):
    with FineTuneServer(running_polls=2) as server:
        workspace(repo, server.base_url)
        metrics = finetune.run_stage("real", 3, 1)
        (job,) = server.jobs.values()
        (upload,) = server.files.values()
        trained = [json.loads(line)["messages"] for line in upload["_data"].decode().splitlines()]
        # the first 3 pairs of the condition, in the prompt the model translates with (no shots)
        assert [(m[1]["content"], m[2]["content"]) for m in trained] == PAIRS[:3]
        assert all(m[0] == {"role": "system", "content": SYSTEM} for m in trained)
        assert job["seed"] == 1 and job["model"] == BASE_MODELS[0]
        # the ft: model translated the test set (it learned its training answers, which are the references)
        assert metrics["bleu"] == 100.0 and metrics["fine_tuned_model"] == job["fine_tuned_model"]
        assert metrics["cost_usd"] == round(job["trained_tokens"] * 3.0 / 1e6, 4)
        record = json.loads((finetune.MODELS / "real-3-seed1" / "job.json").read_text())
        assert record["job_id"] == job["id"] and record["status"] == "succeeded"
        assert (finetune.RESULTS / "real-3-seed1" / "test.en").read_text().splitlines() == [e for _, e in PAIRS[:3]]
        before = list(server.requests)
        again = finetune.run_stage("real", 3, 1)
        new = server.requests[len(before):]
        assert again["bleu"] == 100.0
        assert not [r for r in new if r[0] == "POST"], new   # no upload, no job, no completion
        assert "sk-test" not in json.dumps(again) + (finetune.STATE / "real-3-seed1" / "job.json").read_text()


def test_the_base_model_and_the_comparison(repo):
    with FineTuneServer(running_polls=1) as server:
        workspace(repo, server.base_url)
        base = finetune.base_stage()
        finetune.run_stage("real", 3, 1)
    # the stand-in's base model answers EN[...]: no shot helps it
    assert base["zero-shot"]["bleu"] < 50 and base["few-shot"]["shots"] == 1
    assert (finetune.RESULTS / "base" / "few-shot.en").read_text().startswith("EN[")
    finetune_compare.main()
    intervals = finetune_compare.pd.read_csv(finetune_compare.INTERVALS)
    assert set(intervals.condition) == {"base zero-shot", "base few-shot", "real"}
    # one run per point: intervals over the test sentences only (3 here: too few for the model that learned its
    # answers to clear the floors on every resample), and said so; the base model's EN[...] did not learn
    assert set(intervals.interval) == {"sentences"}
    assert not intervals[intervals.role == "base"].learned.any()
    assert (intervals.bleu_floor >= 5.0).all() and (intervals.chrf_floor >= 25.0).all()
    sig = finetune_compare.pd.read_csv(finetune_compare.SIGNIFICANCE)
    (row,) = sig.itertuples()
    assert row.family == "E10-fine-tuning" and row.a == "real" and row.difference > 50
    assert row.interval == "sentences" and not row.b_learned


def test_the_dry_run_prices_the_grid_and_sends_nothing(repo):
    workspace(repo, "http://127.0.0.1:9/v1")   # nothing listens there
    est = finetune.estimate(finetune.load_params())
    (run,) = est["runs"]
    data = finetune_openai.training_file(finetune.openai_examples({"system": SYSTEM, "user": "{de}"}, PAIRS[:3]))
    assert run["examples"] == 3 and run["estimated_training_tokens"] == finetune_openai.estimate(data, 2, 3.0)[
        "estimated_training_tokens"]
    assert est["total_cost_usd"] == round(est["total_training_tokens"] * 3.0 / 1e6, 2)


def test_switched_off_costs_nothing_and_leaves_empty_tables(repo):
    workspace(repo, "http://127.0.0.1:9/v1", conditions=())
    assert finetune.base_stage()["switched_off"] is True
    finetune_compare.main()
    assert finetune_compare.pd.read_csv(finetune_compare.TABLE).empty


def test_a_size_beyond_the_pool_is_refused_naming_the_file(repo):
    workspace(repo, "http://127.0.0.1:9/v1")
    with pytest.raises(ValueError, match=r"data/conditions/real/pool.de: 4 pairs, but finetune.sizes asks for 9"):
        finetune.training_pairs("real", 9)
