"""A fault-injecting OpenAI-compatible server on 127.0.0.1 for the tests: answers /v1/completions and
/v1/chat/completions, and misbehaves on cue (429 with Retry-After, 500, a slow answer, malformed JSON, a
body cut short). It records every request it receives, so tests can count what was paid for."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler

from helpers import LoopbackServer

MODEL = "fake-translator"


def translate(text: str) -> str:
    """The fake model's 'translation': deterministic, so answers can be checked."""
    return f"EN[{text.rsplit('German:', 1)[-1].replace('English:', '').strip()}]"


class FaultServer(LoopbackServer):
    """`faults` is consumed one entry per POST: "ok", "429", "500", "slow", "malformed", "cut"; when it
    runs out every request is answered "ok". `delay` slows every answer (for kill-and-resume tests)."""

    def __init__(self, faults: list[str] | None = None, delay: float = 0.0, retry_after: str = "1",
                 slow_seconds: float = 3.0, blank_every: int = 0):
        self.faults = list(faults or [])
        self.delay, self.retry_after, self.slow_seconds = delay, retry_after, slow_seconds
        self.blank_every = blank_every   # every n-th request gets an empty answer (a flagged item)
        self.requests: list[dict] = []   # every POST: {time, path, body, fault}
        self.in_flight = self.max_in_flight = 0
        self._lock = threading.Lock()
        super().__init__()

    def answered(self) -> list[dict]:
        return [r for r in self.requests if r["fault"] == "ok"]

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, body: bytes, headers: dict | None = None, length: int | None = None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body) if length is None else length))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

            def do_GET(self):
                if self.path.rstrip("/") == "/v1/models":
                    self._send(200, json.dumps({"object": "list", "data": [
                        {"id": MODEL, "object": "model", "created": 0, "owned_by": "test"}]}).encode())
                else:
                    self._send(404, b'{"error": {"message": "not found"}}')

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with server._lock:
                    fault = server.faults.pop(0) if server.faults else "ok"
                    server.requests.append({"time": time.monotonic(), "path": self.path, "body": body,
                                            "fault": fault})
                with server._lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self._respond(body, fault)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _respond(self, body: dict, fault: str):
                if body.get("model") != MODEL:
                    self._send(404, json.dumps({"error": {"message": f"The model `{body.get('model')}` does "
                                                          f"not exist", "type": "invalid_request_error",
                                                          "code": "model_not_found"}}).encode())
                    return
                if fault == "429":
                    self._send(429, b'{"error": {"message": "rate limited"}}', {"Retry-After": server.retry_after})
                    return
                if fault == "500":
                    self._send(500, b'{"error": {"message": "boom"}}')
                    return
                if fault == "malformed":
                    self._send(200, b'{"id": "x", "choices": [{"text": ')
                    return
                if fault == "slow":
                    time.sleep(server.slow_seconds)
                time.sleep(server.delay)
                blank = server.blank_every and len(server.requests) % server.blank_every == 0
                answer = self._answer(body, blank)
                if fault == "cut":  # promise the whole body, send a piece, hang up
                    self._send(200, answer[:20], length=len(answer))
                    self.close_connection = True
                    return
                self._send(200, answer)

            def _answer(self, body: dict, blank: bool = False) -> bytes:
                usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
                if self.path.endswith("/chat/completions"):
                    text = "" if blank else translate(body["messages"][-1]["content"])
                    return json.dumps({"id": "c", "object": "chat.completion", "created": 0, "model": MODEL,
                                       "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                                                    "message": {"role": "assistant", "content": text}}],
                                       "usage": usage}).encode()
                text = "" if blank else " " + translate(body["prompt"])
                return json.dumps({"id": "c", "object": "text_completion", "created": 0, "model": MODEL,
                                   "choices": [{"index": 0, "finish_reason": "stop", "text": text,
                                                "logprobs": {"token_logprobs": [-0.5, -1.5], "tokens": ["a", "b"],
                                                             "text_offset": [0, 1], "top_logprobs": None}}],
                                   "usage": usage}).encode()

        return Handler
