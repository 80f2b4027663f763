"""E10's `openai` backend: fine-tune a model through OpenAI's fine-tuning API, or any service that implements
its endpoints, and never pay twice.

The life cycle, as OpenAI documents it (platform.openai.com/docs/api-reference/fine-tuning):
  1. the training data, chat-format JSONL (one {"messages": [system, user, assistant]} per line), is uploaded
     with `files.create(purpose="fine-tune")`;
  2. a job is created with `fine_tuning.jobs.create` (the supervised method, its hyperparameters, a seed and a
     suffix) and tagged with the training file's SHA-256 in its `metadata`;
  3. the job is polled with `fine_tuning.jobs.retrieve` until it is `succeeded`, `failed` or `cancelled`, and
     its events (`list_events`) are logged as they arrive;
  4. the job's `fine_tuned_model` (an `ft:` name) then answers like any model, through the same openai-client
     code that generation uses (llm.py).

Paying once: every step's result is written to `job.json` in the state directory as soon as it is known, so a
stage killed at any point resumes where it stopped. A job that is still running is polled, never created again;
a finished job is found again by its training file's hash (the job's metadata), even when job.json is lost; an
uploaded file is found again by its name, `<sha256>.jsonl`. A job that failed or was cancelled is not reused:
the stage stops with the job's error, and a re-run starts a new job on the already uploaded file (OpenAI bills
trained tokens; a failed job has none to bill).
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import openai

STATE = "job.json"
TERMINAL = ("succeeded", "failed", "cancelled")
HASH_KEY = "training_file_sha256"   # the job's metadata key that finds it again


class FineTuneError(RuntimeError):
    """A job that failed or was cancelled, or a state that cannot be resumed; the message names the job."""


def chat_example(system: str | None, user: str, assistant: str) -> dict:
    """One training example in OpenAI's chat format: the prompt exactly as the model sees it when it
    translates, and the English it should answer."""
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return {"messages": messages}


def training_file(examples: Iterable[dict]) -> bytes:
    """The JSONL bytes that are uploaded (and hashed): one example a line, in order."""
    return "".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in examples).encode("utf-8")


def estimate(data: bytes, n_epochs: int, price_per_million: float | None) -> dict:
    """What a job will train on and cost, before anything is paid: tokens estimated as characters / 4 (OpenAI's
    rule of thumb for English; German text runs somewhat higher), times the epochs."""
    examples = data.decode("utf-8").splitlines()
    chars = sum(len(m["content"]) for line in examples for m in json.loads(line)["messages"])
    tokens = round(chars / 4) * int(n_epochs)
    cost = None if price_per_million is None else round(tokens * float(price_per_million) / 1e6, 4)
    return {"examples": len(examples), "estimated_training_tokens": tokens, "n_epochs": int(n_epochs),
            "estimated_cost_usd": cost}


def read_state(state_dir: Path) -> dict:
    path = Path(state_dir) / STATE
    return json.loads(path.read_text()) if path.exists() else {}


def _write_state(state_dir: Path, state: dict) -> None:
    path = Path(state_dir) / STATE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(STATE + ".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)   # a kill never leaves half a state


def _uploaded_file(client: openai.OpenAI, name: str) -> str | None:
    """The id of a processed fine-tune file named `name` that is already on the service, or None."""
    for f in client.files.list(purpose="fine-tune"):
        if f.filename == name and f.status != "error":
            return f.id
    return None


def _job_by_hash(client: openai.OpenAI, sha256: str, model: str) -> Any | None:
    """The newest job on the service for this training file and base model that can still be used: succeeded,
    or not finished yet. Failed and cancelled jobs are passed over."""
    for job in client.fine_tuning.jobs.list(metadata={HASH_KEY: sha256}, limit=100):
        if (job.metadata or {}).get(HASH_KEY) == sha256 and job.model == model and job.status not in (
                "failed", "cancelled"):
            return job
    return None


def _job_error(job: Any) -> str:
    """'failed: <message> (<code>)' from the job's `error` object, or just the status when it has none."""
    if job.error is None:
        return job.status
    return f"{job.status}: {job.error.message}" + (f" ({job.error.code})" if job.error.code else "")


def fine_tune(client: openai.OpenAI, data: bytes, *, model: str, hyperparameters: dict, seed: int | None,
              suffix: str | None, state_dir: Path, poll_seconds: float = 10.0, timeout_seconds: float | None = None,
              price_per_million: float | None = None, log: Callable[[str], None] = print) -> dict:
    """Fine-tune `model` on `data` (training_file's JSONL) and return the state: job id, status, the
    `fine_tuned_model`, trained tokens and their cost. Resumes from `state_dir`/job.json; see the module's
    docstring for how nothing is paid twice."""
    sha256 = hashlib.sha256(data).hexdigest()
    state = read_state(state_dir)
    if state.get(HASH_KEY) != sha256:   # no state, or the state of other training data
        state = {HASH_KEY: sha256, "model": model}

    job = None
    if state.get("job_id") and state.get("status") not in ("failed", "cancelled"):
        job = client.fine_tuning.jobs.retrieve(state["job_id"])
        log(f"fine-tune: resuming job {job.id} ({job.status})")
    if job is None:
        job = _job_by_hash(client, sha256, model)
        if job is not None:
            log(f"fine-tune: found job {job.id} ({job.status}) for training file sha256 {sha256[:12]}")
    if job is None:
        if not state.get("file_id"):
            name = f"{sha256}.jsonl"
            state["file_id"] = _uploaded_file(client, name)
            if state["file_id"]:
                log(f"fine-tune: training file {name} is already uploaded ({state['file_id']})")
            else:
                state["file_id"] = client.files.create(file=(name, data, "application/jsonl"), purpose="fine-tune").id
                log(f"fine-tune: uploaded {len(data)} bytes as {state['file_id']}")
            _write_state(state_dir, state)
        job = client.fine_tuning.jobs.create(
            model=model, training_file=state["file_id"], seed=seed, suffix=suffix, metadata={HASH_KEY: sha256},
            method={"type": "supervised", "supervised": {"hyperparameters": hyperparameters}})
        log(f"fine-tune: created job {job.id} on {model} with {hyperparameters}")
    state.update(job_id=job.id, status=job.status, file_id=job.training_file)
    _write_state(state_dir, state)

    seen: set[str] = set()
    start = time.monotonic()
    while True:
        events = sorted(client.fine_tuning.jobs.list_events(job.id, limit=100), key=lambda e: (e.created_at, e.id))
        for event in events:
            if event.id not in seen:
                seen.add(event.id)
                log(f"fine-tune: {job.id} [{event.level}] {event.message}")
        if job.status in TERMINAL:
            break
        if timeout_seconds is not None and time.monotonic() - start > timeout_seconds:
            raise FineTuneError(f"job {job.id} is still {job.status} after {timeout_seconds:.0f} s; it keeps "
                                f"running on the service, and a re-run polls it again (state: {state_dir}/{STATE})")
        time.sleep(poll_seconds)
        job = client.fine_tuning.jobs.retrieve(job.id)
        if job.status != state["status"]:
            state["status"] = job.status
            _write_state(state_dir, state)

    state.update(status=job.status, fine_tuned_model=job.fine_tuned_model, trained_tokens=job.trained_tokens,
                 events=len(seen))
    if job.trained_tokens is not None and price_per_million is not None:
        state["cost_usd"] = round(job.trained_tokens * float(price_per_million) / 1e6, 4)
    _write_state(state_dir, state)
    if job.status != "succeeded":
        raise FineTuneError(f"fine-tuning job {job.id} on {model} {_job_error(job)}; a re-run starts a new job "
                            f"on the uploaded file {state['file_id']}")
    log(f"fine-tune: job {job.id} succeeded: {job.fine_tuned_model}, {job.trained_tokens} trained tokens")
    return state
