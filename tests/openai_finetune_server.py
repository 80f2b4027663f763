"""A stand-in for OpenAI's fine-tuning service on 127.0.0.1 (OpenAI is a paid outside API, so the tests need
one): the endpoints and the job life cycle as OpenAI documents them (platform.openai.com/docs/api-reference:
files, fine-tuning), errors in OpenAI's shape, and the fine-tuned `ft:` model answering chat completions.

- POST /v1/files (multipart, purpose=fine-tune), GET /v1/files?purpose=...: file objects;
- POST /v1/fine_tuning/jobs, GET /v1/fine_tuning/jobs (newest first, `metadata[key]=value` filter),
  GET /v1/fine_tuning/jobs/{id}, GET /v1/fine_tuning/jobs/{id}/events, POST .../{id}/cancel;
- a job moves validating_files -> queued -> running -> succeeded (or failed) one step per retrieve, staying
  `running_polls` retrieves in `running`;
- POST /v1/chat/completions: a fine-tuned model answers a training prompt with its training answer (it has
  learned the data), anything else as EN[...]; GET /v1/models lists base and fine-tuned models.

Faults on cue: `upload_faults` (one entry per upload: "429" answers 429 with Retry-After), `fail_jobs` (the
n-th created jobs, counted from 1, fail in `running` with an error). Every request is recorded."""
from __future__ import annotations

import json
import threading
import time
import urllib.parse
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler

from helpers import LoopbackServer

BASE_MODELS = ("gpt-4o-mini-2024-07-18", "gpt-4.1-mini-2025-04-14")
LIFE_CYCLE = ("validating_files", "queued", "running")


def _error(message: str, type_: str = "invalid_request_error", param: str | None = None,
           code: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


class FineTuneServer(LoopbackServer):
    def __init__(self, running_polls: int = 2, upload_faults: list[str] | None = None,
                 fail_jobs: tuple[int, ...] = (), retry_after: str = "1"):
        self.running_polls, self.retry_after = running_polls, retry_after
        self.upload_faults, self.fail_jobs = list(upload_faults or []), set(fail_jobs)
        self.files: dict[str, dict] = {}        # id -> file object, plus its bytes under "_data"
        self.jobs: dict[str, dict] = {}         # id -> job object, plus "_polls"
        self.events: dict[str, list[dict]] = {}
        self.requests: list[tuple[str, str]] = []   # (method, path without query)
        self._lock = threading.Lock()
        super().__init__()

    def count(self, method: str, path: str) -> int:
        return sum(r == (method, path) for r in self.requests)

    # ------------------------------------------------------------------------------------------- the service
    def _event(self, job: dict, message: str, level: str = "info") -> None:
        events = self.events.setdefault(job["id"], [])
        events.append({"object": "fine_tuning.job.event", "id": f"ftevent-{job['id'][6:]}-{len(events)}",
                       "created_at": int(time.time()), "level": level, "message": message, "type": "message",
                       "data": {}})

    def _advance(self, job: dict) -> None:
        """One retrieve moves the job on by one step of its life cycle."""
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return
        if job["status"] != "running":
            job["status"] = LIFE_CYCLE[LIFE_CYCLE.index(job["status"]) + 1]
            self._event(job, {"queued": "Job queued", "running": "Fine-tuning job started"}[job["status"]])
            return
        job["_polls"] += 1
        self._event(job, f"Step {job['_polls']}/{self.running_polls}: training loss={1.0 / job['_polls']:.3f}")
        if job["_polls"] < self.running_polls:
            return
        job["finished_at"] = int(time.time())
        if job["_number"] in self.fail_jobs:
            job["status"] = "failed"
            job["error"] = {"code": "invalid_training_file", "param": "training_file",
                            "message": "The job failed due to an invalid training file."}
            self._event(job, "Fine-tuning job failed", "error")
            return
        data = self.files[job["training_file"]]["_data"]
        job["status"] = "succeeded"
        job["fine_tuned_model"] = f"ft:{job['model']}:test-org:{job['user_provided_suffix'] or ''}:{job['id'][-8:]}"
        job["trained_tokens"] = round(len(data.decode()) / 4) * job["hyperparameters"]["n_epochs"]
        self._event(job, "The job has successfully completed")

    def _learned(self, model: str) -> dict[str, str]:
        """What a fine-tuned model answers: its training file's prompts and answers."""
        for job in self.jobs.values():
            if job["fine_tuned_model"] == model:
                lines = self.files[job["training_file"]]["_data"].decode().splitlines()
                pairs = [json.loads(line)["messages"] for line in lines]
                return {m[-2]["content"]: m[-1]["content"] for m in pairs}
        raise KeyError(model)

    def _public(self, obj: dict) -> dict:
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status: int, obj: dict, headers: dict | None = None) -> None:
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length", 0)))

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                with server._lock:
                    server.requests.append(("GET", url.path))
                    self._get(url.path.rstrip("/"), query)

            def do_POST(self):
                url = urllib.parse.urlsplit(self.path)
                body = self._body()
                with server._lock:
                    server.requests.append(("POST", url.path))
                    self._post(url.path.rstrip("/"), body)

            def _get(self, path: str, query: dict) -> None:
                parts = path.split("/")
                if path == "/v1/models":
                    names = [*BASE_MODELS, *(j["fine_tuned_model"] for j in server.jobs.values()
                                            if j["fine_tuned_model"])]
                    self._send(200, {"object": "list", "data": [{"id": n, "object": "model", "created": 0,
                                                                 "owned_by": "test"} for n in names]})
                elif path == "/v1/files":
                    files = [server._public(f) for f in server.files.values()
                             if f["purpose"] == query.get("purpose", f["purpose"])]
                    self._send(200, {"object": "list", "data": files, "has_more": False})
                elif path == "/v1/fine_tuning/jobs":
                    wanted = {k[len("metadata["):-1]: v for k, v in query.items() if k.startswith("metadata[")}
                    jobs = [server._public(j) for j in reversed(server.jobs.values())
                            if all((j["metadata"] or {}).get(k) == v for k, v in wanted.items())]
                    self._send(200, {"object": "list", "data": jobs[:int(query.get("limit", 20))],
                                     "has_more": False})
                elif len(parts) == 5 and parts[3] == "jobs" and parts[4] in server.jobs:
                    job = server.jobs[parts[4]]
                    server._advance(job)
                    self._send(200, server._public(job))
                elif len(parts) == 6 and parts[5] == "events" and parts[4] in server.jobs:
                    events = list(reversed(server.events.get(parts[4], [])))   # newest first, as OpenAI's
                    self._send(200, {"object": "list", "data": events, "has_more": False})
                else:
                    self._send(404, _error(f"Invalid URL (GET {path})"))

            def _post(self, path: str, body: bytes) -> None:
                parts = path.split("/")
                if path == "/v1/files":
                    fault = server.upload_faults.pop(0) if server.upload_faults else "ok"
                    if fault == "429":
                        self._send(429, _error("Rate limit reached for files", "requests", None,
                                               "rate_limit_exceeded"), {"Retry-After": server.retry_after})
                        return
                    head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
                    form = BytesParser(policy=HTTP).parsebytes(head + body)
                    fields = {p.get_param("name", header="content-disposition"): p for p in form.iter_parts()}
                    purpose = fields["purpose"].get_payload(decode=True).decode()
                    upload = fields["file"]
                    if purpose != "fine-tune":
                        self._send(400, _error(f"Invalid purpose {purpose!r}", param="purpose"))
                        return
                    data = upload.get_payload(decode=True)
                    file_id = f"file-{len(server.files) + 1:08d}"
                    server.files[file_id] = {"id": file_id, "object": "file", "bytes": len(data),
                                             "created_at": int(time.time()), "filename": upload.get_filename(),
                                             "purpose": purpose, "status": "processed", "_data": data}
                    self._send(200, server._public(server.files[file_id]))
                elif path == "/v1/fine_tuning/jobs":
                    req = json.loads(body)
                    if req.get("model") not in BASE_MODELS:
                        self._send(400, _error(f"Model {req.get('model')} is not available for fine-tuning or "
                                               f"does not exist.", param="model", code="model_not_available"))
                        return
                    if req.get("training_file") not in server.files:
                        self._send(400, _error(f"invalid training_file: {req.get('training_file')}",
                                               param="training_file", code="invalid_training_file"))
                        return
                    hyper = {"batch_size": "auto", "learning_rate_multiplier": "auto", "n_epochs": "auto",
                             **req.get("method", {}).get("supervised", {}).get("hyperparameters", {})}
                    if hyper["n_epochs"] == "auto":
                        hyper["n_epochs"] = 3
                    job_id = f"ftjob-{len(server.jobs) + 1:08d}"
                    job = {"id": job_id, "object": "fine_tuning.job", "created_at": int(time.time()),
                           "error": None, "fine_tuned_model": None, "finished_at": None, "hyperparameters": hyper,
                           "model": req["model"], "organization_id": "org-test", "result_files": [],
                           "seed": req.get("seed") or 0, "status": "validating_files", "trained_tokens": None,
                           "training_file": req["training_file"], "validation_file": req.get("validation_file"),
                           "estimated_finish": None, "integrations": [], "metadata": req.get("metadata"),
                           "method": {"type": "supervised", "supervised": {"hyperparameters": hyper}},
                           "user_provided_suffix": req.get("suffix"), "_polls": 0,
                           "_number": len(server.jobs) + 1}
                    server.jobs[job_id] = job
                    server._event(job, f"Created fine-tuning job: {job_id}")
                    self._send(200, server._public(job))
                elif len(parts) == 6 and parts[5] == "cancel" and parts[4] in server.jobs:
                    job = server.jobs[parts[4]]
                    if job["status"] in ("succeeded", "failed", "cancelled"):
                        self._send(400, _error(f"Job {job['id']} has already completed"))
                        return
                    job["status"] = "cancelled"
                    server._event(job, "Fine-tuning job cancelled")
                    self._send(200, server._public(job))
                elif path == "/v1/chat/completions":
                    req = json.loads(body)
                    prompt = req["messages"][-1]["content"]
                    try:
                        learned = server._learned(req["model"]) if req["model"].startswith("ft:") else {}
                    except KeyError:
                        self._send(404, _error(f"The model `{req['model']}` does not exist", code="model_not_found"))
                        return
                    text = learned.get(prompt, f"EN[{prompt}]")
                    self._send(200, {"id": "c", "object": "chat.completion", "created": 0, "model": req["model"],
                                     "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                                                  "message": {"role": "assistant", "content": text}}],
                                     "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
                else:
                    self._send(404, _error(f"Invalid URL (POST {path})"))

        return Handler
