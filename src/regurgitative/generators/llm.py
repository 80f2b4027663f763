"""Asking an LLM through the `openai` client, for OpenAI's API and any OpenAI-compatible server alike
(llama.cpp, vLLM, Ollama): the same code path for a remote API and for the local models on loopback.

Every answer goes through the response cache first (`response_cache.py`), so a re-run asks nothing and a
killed run resumes. Transient failures (429 with or without Retry-After, 5xx, timeouts, dropped connections)
are retried by the openai client itself, with exponential backoff and jitter, honouring Retry-After; an
answer that arrives but cannot be read (malformed JSON, a body cut short) is retried here. A missing API key
or an unknown model stops the run with an error that says which.

Two checks run before every attempt the client sends (an httpx request hook, so also between the client's own
retries): `alive`, which raises once a local server has died (the request stops at once instead of retrying
against a closed port), and the request's total time (`total_seconds`: per-attempt timeouts alone allow
(max_retries + 1) x timeout plus backoff).
"""
from __future__ import annotations

import contextlib
import inspect
import json
import math
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import openai
from dotenv import load_dotenv

from regurgitative.generators.response_cache import ResponseCache, request_key

LOCAL_API_KEY = "local"  # llama_cpp.server asks for none; the client wants one


class LLMError(RuntimeError):
    """A request that cannot succeed (no key, no such model, retries exhausted); the message says why."""


class RequestDeadlineExceeded(LLMError):
    """A request's total time (all attempts and the waits between them) ran out."""


def api_key(env_name: str, generator: str, env_file: Path = Path(".env")) -> str:
    """The key from the environment, or from a git-ignored .env (which never overrides the environment).
    The key itself is never logged, cached or written anywhere."""
    load_dotenv(env_file, override=False)
    key = os.environ.get(env_name)
    if not key:
        raise LLMError(f"generator {generator!r}: environment variable {env_name} is not set; export it or "
                       f"put `{env_name}=...` in a git-ignored .env at the repository root")
    return key


class RequestGuard:
    """Checked before each attempt of every request a client sends (see the module's docstring). The deadline
    is per request and per thread: `LLM._ask` opens it, the hook reads it and shortens the attempt's timeouts
    to what is left of it."""

    def __init__(self, alive: Callable[[], None] | None = None):
        self.alive = alive
        self._local = threading.local()

    @contextlib.contextmanager
    def deadline(self, seconds: float | None):
        self._local.deadline = None if not seconds else time.monotonic() + float(seconds)
        self._local.seconds = seconds
        try:
            yield
        finally:
            self._local.deadline = None

    def before_attempt(self, request: Any) -> None:
        if self.alive is not None:
            self.alive()
        deadline = getattr(self._local, "deadline", None)
        if deadline is None:
            return
        left = deadline - time.monotonic()
        if left <= 0:
            raise RequestDeadlineExceeded(f"{request.url}: no answer within the request's total time of "
                                          f"{self._local.seconds:g} s (generate.request_seconds), retries included")
        timeout = request.extensions.get("timeout")
        if isinstance(timeout, dict):
            request.extensions["timeout"] = {k: (left if v is None else min(v, left)) for k, v in timeout.items()}


def make_client(base_url: str, key: str, timeout: float, max_retries: int,
                guard: RequestGuard | None = None) -> openai.OpenAI:
    """An openai client; with a guard, every attempt it sends is checked first (RequestGuard)."""
    http_client = None
    if guard is not None:
        http_client = openai.DefaultHttpxClient(event_hooks={"request": [guard.before_attempt]})
    return openai.OpenAI(base_url=base_url, api_key=key, timeout=timeout, max_retries=max_retries,
                         http_client=http_client)


@dataclass
class Usage:
    """What one generator cost: requests actually sent (cache misses), answers served from the cache,
    and tokens of the answers sent this run."""
    requests: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retried_bad_answers: int = 0
    seconds_waiting: float = 0.0
    by_finish_reason: dict[str, int] = field(default_factory=dict)

    def cost(self, prices: dict | None) -> float | None:
        """USD for this run's requests, from prices per million tokens {input, output} (params)."""
        if not prices:
            return None
        return round(self.prompt_tokens * float(prices["input"]) / 1e6
                     + self.completion_tokens * float(prices["output"]) / 1e6, 6)


class LLM:
    """One generator's endpoint: `complete(payload)` returns {text, finish_reason, prompt_tokens,
    completion_tokens, mean_logprob} from the cache or from the endpoint.

    `model_id` is the model's identity in cache keys (the weights' hash for a local model, endpoint and
    name for a remote one): a local server's port changes every run, its answers must not. `key_fields` is
    what else decides an answer and goes into the key (for a local model: the llama.cpp build, the decoding
    mode, the server's settings; `translation.endpoint`). Several clients (replicas of one local server) are
    used one request each at a time.

    Decoding fields the openai client does not know (llama.cpp's `repeat_penalty`, `top_k`, ...) are sent
    through its `extra_body`; they are in the key like every other."""

    def __init__(self, client: openai.OpenAI | list[openai.OpenAI], *, model: str, model_id: str, api: str,
                 decoding: dict, cache: ResponseCache, bad_answer_retries: int = 3,
                 guard: RequestGuard | None = None, request_seconds: float | None = None,
                 key_fields: dict | None = None):
        if api not in ("completions", "chat"):
            raise LLMError(f"api must be 'completions' or 'chat', not {api!r}")
        clients = client if isinstance(client, list) else [client]
        self._replicas = len(clients) > 1
        self._idle: queue.Queue[openai.OpenAI] = queue.Queue()
        for c in clients:
            self._idle.put(c)
        self.client, self.model, self.model_id, self.api = clients[0], model, model_id, api
        self.decoding = {k: v for k, v in decoding.items() if v is not None}
        self.key_fields = dict(key_fields or {})
        clash = sorted(set(self.key_fields) & ({"model_id", "api", "prompt", "messages"} | set(self.decoding)))
        if clash:
            raise LLMError(f"key_fields {clash} would overwrite a field of the request in its cache key")
        known = openai_fields(api)
        self._sent = {k: v for k, v in self.decoding.items() if k in known}
        if extra := {k: v for k, v in self.decoding.items() if k not in known}:
            self._sent["extra_body"] = extra
        self.cache = cache
        self.bad_answer_retries = bad_answer_retries
        self.guard, self.request_seconds = guard or RequestGuard(), request_seconds
        self.usage = Usage()
        self._count = threading.Lock()  # complete() runs in several threads

    def check_alive(self) -> None:
        """Raise (the endpoint's own error) when a local server behind this generator has died."""
        if self.guard.alive is not None:
            self.guard.alive()

    def check_model(self) -> None:
        """Fail early, with the endpoint's own list, when the model does not exist there."""
        try:
            names = [m.id for m in self.client.models.list()]
        except openai.AuthenticationError as e:
            raise LLMError(f"{self.client.base_url}: the API key was refused ({e.status_code})") from None
        except openai.NotFoundError:
            return  # an endpoint without /models: the first request will tell
        if names and self.model not in names:
            raise LLMError(f"{self.client.base_url}: no model {self.model!r}; it serves {', '.join(names[:20])}")

    def request(self, payload: dict) -> dict:
        """The full request: what the cache key covers."""
        return {"model_id": self.model_id, "api": self.api, **self.key_fields, **payload, **self.decoding}

    def complete(self, payload: dict) -> dict:
        """payload: {"prompt": str} for completions, {"messages": [...]} for chat."""
        request = self.request(payload)
        key = request_key(request)
        cached = self.cache.get(key)
        if cached is not None:
            with self._count:
                self.usage.cache_hits += 1
            return cached
        if not self._replicas:  # one client (a remote API or one server) takes concurrent requests
            answer = self._ask(self.client, payload)
        else:  # replicas of a local server: one request each at a time
            client = self._idle.get()
            try:
                answer = self._ask(client, payload)
            finally:
                self._idle.put(client)
        self.cache.put(key, request, answer)
        with self._count:
            u = self.usage
            u.requests += 1
            u.prompt_tokens += answer["prompt_tokens"]
            u.completion_tokens += answer["completion_tokens"]
            u.by_finish_reason[answer["finish_reason"]] = u.by_finish_reason.get(answer["finish_reason"], 0) + 1
        return answer

    def _ask(self, client: openai.OpenAI, payload: dict) -> dict:
        with self.guard.deadline(self.request_seconds):
            return self._ask_within_deadline(client, payload)

    def _ask_within_deadline(self, client: openai.OpenAI, payload: dict) -> dict:
        for attempt in range(self.bad_answer_retries + 1):
            start = time.perf_counter()
            try:
                if self.api == "completions":
                    r = client.completions.create(model=self.model, **payload, **self._sent)
                else:
                    r = client.chat.completions.create(model=self.model, **payload, **self._sent)
                return _answer(r, self.api)
            except openai.NotFoundError as e:
                raise LLMError(f"{self.client.base_url}: model {self.model!r} not found ({e.message})") from None
            except openai.AuthenticationError as e:
                raise LLMError(f"{self.client.base_url}: the API key was refused ({e.status_code})") from None
            except (openai.APIResponseValidationError, json.JSONDecodeError, _BadAnswer) as e:
                if attempt == self.bad_answer_retries:
                    raise LLMError(f"{self.client.base_url}: no readable answer after {attempt + 1} tries: "
                                   f"{type(e).__name__}: {e}") from None
                with self._count:
                    self.usage.retried_bad_answers += 1
                time.sleep(min(8.0, 0.5 * 2 ** attempt))
            except (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError) as e:
                raise LLMError(f"{self.client.base_url}: gave up after the client's retries: "
                               f"{type(e).__name__}: {e}") from None
            finally:
                with self._count:
                    self.usage.seconds_waiting += time.perf_counter() - start
        raise AssertionError("unreachable")


def openai_fields(api: str) -> frozenset[str]:
    """The request fields the openai client's create() takes for `api` (OpenAI's own); any other decoding field
    (llama.cpp's repeat_penalty, top_k, min_p, ...) has to travel in extra_body."""
    from openai.resources.chat.completions import Completions as ChatCompletions
    from openai.resources.completions import Completions
    create = Completions.create if api == "completions" else ChatCompletions.create
    return frozenset(inspect.signature(create).parameters) - {"self", "extra_body", "extra_headers", "extra_query"}


class _BadAnswer(ValueError):
    """A 200 answer without the fields an answer has."""


def _answer(r: Any, api: str) -> dict:
    choices = getattr(r, "choices", None)
    if not choices:
        raise _BadAnswer(f"no choices in the answer: {str(r)[:200]}")
    choice = choices[0]
    text = choice.text if api == "completions" else (choice.message.content if choice.message else None)
    if text is None and api == "completions":
        raise _BadAnswer(f"no text in the answer: {str(r)[:200]}")
    usage = getattr(r, "usage", None)
    return {"text": text or "", "finish_reason": choice.finish_reason or "unknown",
            "prompt_tokens": int(getattr(usage, "prompt_tokens", 0) or 0),
            "completion_tokens": int(getattr(usage, "completion_tokens", 0) or 0),
            "mean_logprob": _mean_logprob(choice)}


def _mean_logprob(choice: Any) -> float | None:
    """The generator's mean token log-probability (its confidence), when the endpoint returned logprobs."""
    lp = getattr(choice, "logprobs", None)
    if lp is None:
        return None
    values = getattr(lp, "token_logprobs", None)  # completions
    if values is None and getattr(lp, "content", None):  # chat
        values = [t.logprob for t in lp.content]
    values = [v for v in (values or []) if v is not None and math.isfinite(v)]
    return round(sum(values) / len(values), 6) if values else None
