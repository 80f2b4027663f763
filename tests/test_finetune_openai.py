"""E10's `openai` backend (finetune_openai.py) against a stand-in for OpenAI's fine-tuning service on
127.0.0.1 (tests/openai_finetune_server.py): a job runs to `succeeded` and its `ft:` model answers through the
openai-client code generation uses; nothing is paid twice (a re-run, a lost state, a job still running when
the stage was killed); a failed job stops with its error; a 429 on upload is waited out."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from helpers import REPO
from openai_finetune_server import BASE_MODELS, FineTuneServer

from regurgitative.finetune import openai_api as ft
from regurgitative.generators.llm import LLM, make_client
from regurgitative.generators.response_cache import ResponseCache

pytestmark = pytest.mark.integration  # the test tier (tests/conftest.py)

MODEL = BASE_MODELS[0]
HYPER = {"n_epochs": 2, "batch_size": 4, "learning_rate_multiplier": 1.8}
SYSTEM = "Translate the German sentence into English. Answer with the translation only."
PAIRS = [("Klicken Sie auf Speichern.", "Click Save."), ("Das Dokument ist leer.", "The document is empty."),
         ("Wählen Sie eine Datei.", "Choose a file.")]


def data(pairs=PAIRS) -> bytes:
    return ft.training_file(ft.chat_example(SYSTEM, de, en) for de, en in pairs)


def client_of(server: FineTuneServer):
    return make_client(server.base_url, "sk-test", timeout=10, max_retries=2)


def tune(server: FineTuneServer, state_dir, payload: bytes | None = None, log=lambda m: None) -> dict:
    return ft.fine_tune(client_of(server), data() if payload is None else payload, model=MODEL,
                        hyperparameters=HYPER, seed=7, suffix="e10-real-3", state_dir=state_dir, poll_seconds=0.05,
                        price_per_million=25.0, log=log)


def test_a_job_runs_to_success_and_its_model_translates_through_the_openai_client(tmp_path):
    logged: list[str] = []
    with FineTuneServer(running_polls=3) as server:
        state = tune(server, tmp_path, log=logged.append)
        (upload,) = server.files.values()
        job = server.jobs[state["job_id"]]
        # the uploaded file is the chat-format JSONL, named by its hash; the job is supervised, as asked
        assert upload["filename"] == f"{state['training_file_sha256']}.jsonl" and upload["_data"] == data()
        first = json.loads(upload["_data"].decode().splitlines()[0])
        assert [m["role"] for m in first["messages"]] == ["system", "user", "assistant"]
        assert job["method"] == {"type": "supervised", "supervised": {"hyperparameters": HYPER}}
        assert job["seed"] == 7 and job["metadata"] == {ft.HASH_KEY: state["training_file_sha256"]}
        # the result is recorded: the ft: model, trained tokens and their cost, every event logged once
        saved = json.loads((tmp_path / ft.STATE).read_text())
        assert saved == state and state["status"] == "succeeded" and state["fine_tuned_model"].startswith("ft:")
        assert state["trained_tokens"] > 0 and state["cost_usd"] == round(state["trained_tokens"] * 25.0 / 1e6, 4)
        events = [m for m in logged if "[info]" in m]
        assert len(events) == len(server.events[job["id"]]) and any("successfully completed" in m for m in events)
        # the fine-tuned model answers like any generator, through llm.py
        with ResponseCache(tmp_path / "cache.jsonl") as cache:
            llm = LLM(client_of(server), model=state["fine_tuned_model"], model_id=state["fine_tuned_model"], api="chat",
                      decoding={"temperature": 0.0, "max_tokens": 64}, cache=cache)
            llm.check_model()
            answer = llm.complete({"messages": first["messages"][:-1]})
        assert answer["text"] == first["messages"][-1]["content"]


def test_a_rerun_pays_nothing_and_a_lost_state_finds_the_job_by_its_training_files_hash(tmp_path):
    with FineTuneServer(running_polls=1) as server:
        first = tune(server, tmp_path)
        tune(server, tmp_path)                          # job.json says succeeded: polled, nothing created
        (tmp_path / ft.STATE).unlink()
        again = tune(server, tmp_path)                  # no state: the job is found by its metadata
        assert again["job_id"] == first["job_id"] and again["fine_tuned_model"] == first["fine_tuned_model"]
        assert server.count("POST", "/v1/files") == 1 and server.count("POST", "/v1/fine_tuning/jobs") == 1
        other = tune(server, tmp_path, payload=data(PAIRS[:2]))   # other training data: a job of its own
        assert other["job_id"] != first["job_id"] and server.count("POST", "/v1/fine_tuning/jobs") == 2


SCRIPT = """
import sys
from pathlib import Path
from regurgitative.finetune import openai_api as ft
from regurgitative.generators.llm import make_client
client = make_client(sys.argv[1], "sk-test", timeout=10, max_retries=2)
ft.fine_tune(client, Path(sys.argv[2]).read_bytes(), model=sys.argv[3], hyperparameters={"n_epochs": 2}, seed=7,
             suffix=None, state_dir=Path(sys.argv[4]), poll_seconds=0.05, log=print)
"""


def test_a_job_still_running_when_the_stage_is_killed_is_polled_again_not_restarted(tmp_path):
    (tmp_path / "train.jsonl").write_bytes(data())
    with FineTuneServer(running_polls=10_000) as server:
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        proc = subprocess.Popen([sys.executable, "-c", SCRIPT, server.base_url, str(tmp_path / "train.jsonl"), MODEL,
                                 str(tmp_path / "state")], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not any(j["status"] == "running" and j["_polls"] >= 3 for j in server.jobs.values()):
            assert time.monotonic() < deadline and proc.poll() is None, proc.stdout.read().decode()
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        (job,) = server.jobs.values()
        assert json.loads((tmp_path / "state" / ft.STATE).read_text())["job_id"] == job["id"]
        server.running_polls = job["_polls"] + 2
        state = tune(server, tmp_path / "state")   # the job is polled by its id, whatever the hyperparameters
        assert state["status"] == "succeeded" and state["job_id"] == job["id"]
        assert server.count("POST", "/v1/files") == 1 and server.count("POST", "/v1/fine_tuning/jobs") == 1


def test_a_failed_job_stops_with_its_error_and_a_rerun_starts_a_new_job_on_the_same_file(tmp_path):
    with FineTuneServer(running_polls=1, fail_jobs=(1,)) as server:
        with pytest.raises(ft.FineTuneError, match=r"job ftjob-00000001 on .* failed: The job failed due to an "
                                                   r"invalid training file\. \(invalid_training_file\)"):
            tune(server, tmp_path)
        assert json.loads((tmp_path / ft.STATE).read_text())["status"] == "failed"
        state = tune(server, tmp_path)
        assert state["status"] == "succeeded" and state["job_id"] == "ftjob-00000002"
        assert server.count("POST", "/v1/files") == 1 and server.count("POST", "/v1/fine_tuning/jobs") == 2


def test_a_429_on_upload_is_waited_out_and_the_file_uploaded_once(tmp_path):
    with FineTuneServer(running_polls=1, upload_faults=["429"], retry_after="1") as server:
        start = time.monotonic()
        state = tune(server, tmp_path)
        assert time.monotonic() - start >= 1.0            # Retry-After honoured
        assert server.count("POST", "/v1/files") == 2 and len(server.files) == 1
        assert state["status"] == "succeeded"


def test_a_model_that_cannot_be_fine_tuned_is_named_in_the_error(tmp_path):
    with FineTuneServer() as server:
        client = make_client(server.base_url, "sk-test", timeout=10, max_retries=0)
        with pytest.raises(Exception, match=r"Model gpt-3\.5-turbo-0125 is not available for fine-tuning"):
            ft.fine_tune(client, data(), model="gpt-3.5-turbo-0125", hyperparameters={}, seed=None, suffix=None,
                         state_dir=tmp_path, poll_seconds=0.05, log=lambda m: None)


def test_the_dry_run_estimate_counts_tokens_and_cost_before_anything_is_paid():
    est = ft.estimate(data(), n_epochs=3, price_per_million=25.0)
    chars = sum(len(SYSTEM) + len(de) + len(en) for de, en in PAIRS)
    assert est["examples"] == 3 and est["estimated_training_tokens"] == round(chars / 4) * 3
    assert est["estimated_cost_usd"] == round(est["estimated_training_tokens"] * 25.0 / 1e6, 4)
