"""Asking an LLM to translate, for every stage that does (generate@ and E10's finetune): the request for one
German sentence (completions or chat, with few-shot pairs), the endpoint (a local llama.cpp server started and
watched, or a remote OpenAI-compatible API) and many requests in flight with the answers in input order."""
from __future__ import annotations

import contextlib
import statistics
import sys
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Iterator

from tqdm import tqdm

from regurgitative.generators import llama_server, llm
from regurgitative.generators.response_cache import ResponseCache
from regurgitative.params import param
from regurgitative.paths import PREPARED_DIR
from regurgitative.text import read_lines


# ------------------------------------------------------------------------------------------------ prompts
def build_payload(template: dict, api: str, de: str, shots: list[tuple[str, str]]) -> dict:
    """The request body for one sentence: {"prompt"} for completions, {"messages"} for chat. Few-shot
    examples are (German, English) pairs from the validation split."""
    if api == "completions":
        prompt = template.get("header", "")
        prompt += "".join(template["example"].format(de=d, en=e) for d, e in shots)
        return {"prompt": prompt + template["query"].format(de=de)}
    messages = [{"role": "system", "content": template["system"]}] if template.get("system") else []
    for d, e in shots:
        messages += [{"role": "user", "content": template["user"].format(de=d)},
                     {"role": "assistant", "content": e}]
    return {"messages": messages + [{"role": "user", "content": template["user"].format(de=de)}]}


def few_shot_examples(n: int, pool: list[str]) -> list[tuple[str, str]]:
    """n (German, English) validation pairs of typical length for what the generator will translate: the
    German closest in words to the pool's median, one per validation document (no near-duplicate shots), in
    validation order. Short shots teach short answers (a brevity penalty of 0.47 for Gemma with the
    shortest ones); the validation split is neither in the pool nor in the test set."""
    if n <= 0:
        return []
    de, en = read_lines(PREPARED_DIR / "valid.de"), read_lines(PREPARED_DIR / "valid.en")
    docs = read_lines(PREPARED_DIR / "valid.doc")
    target = statistics.median(len(s.split()) for s in pool)
    chosen: dict[str, int] = {}
    for i in sorted(range(len(de)), key=lambda i: (abs(len(de[i].split()) - target), i)):
        if docs[i] not in chosen:
            chosen[docs[i]] = i
        if len(chosen) == n:
            break
    return [(de[i], en[i]) for i in sorted(chosen.values())]


# ---------------------------------------------------------------------------------------------- endpoints
# How a local generator decodes: one request at a time, one sequence per forward pass (a llama_cpp.server answers
# one request at a time, so generate.concurrency and server.replicas change no answer). A batched path, whose
# greedy answers differ (benchmarks/bench_batched_decoding.py), names its own mode and batch size here.
SINGLE = {"mode": "single", "batch_size": 1}
# Server flags that change no answer: the threads that compute it, the servers that share the work.
NOT_IN_KEY = ("replicas", "n_threads", "n_threads_batch")
# Decoding fields only llama-cpp-python's server takes: OpenAI's API refuses a request that carries them.
LLAMA_CPP_ONLY = ("repeat_penalty",)


def local_key_fields(build: dict, settings: dict, mode: dict = SINGLE) -> dict:
    """What decides a local generator's answer besides the weights (model_id), the request and its decoding:
    the llama.cpp build (llama_server.build_identity), the decoding mode and batch size, and the server's
    settings but its thread count (n_ctx, n_batch, ...)."""
    return {"engine": dict(build), **mode,
            "server": {k: v for k, v in sorted(settings.items()) if k not in NOT_IN_KEY and v is not None}}


@contextlib.contextmanager
def endpoint(name: str, cfg: dict, params: dict, cache: ResponseCache, log_dir: Path) -> Iterator[llm.LLM]:
    """An `llm.LLM` for the generator: a local llama.cpp server started for the block (and watched: a request
    to a server that has died stops at once with its exit status and log), or a remote API."""
    g = param(params, "generate")
    timeout, retries = float(param(params, "generate.timeout_seconds")), int(param(params, "generate.max_retries"))
    request_seconds = param(params, "generate.request_seconds")
    decoding = dict(cfg.get("decoding") or {})
    if cfg["kind"] == "llama_cpp":
        gguf = llama_server.gguf_path(cfg["model"])
        model_id = f"gguf-sha256:{llama_server.file_sha256(gguf)}"
        settings = dict(g.get("server") or {})
        replicas = int(settings.pop("replicas", 1) or 1)
        key_fields = local_key_fields(llama_server.build_identity(), settings)
        with llama_server.serve_replicas(gguf, alias=name, replicas=replicas, settings=settings,
                                         log_dir=log_dir) as servers:
            guard = llm.RequestGuard(alive=lambda: [s.check() for s in servers])
            clients = [llm.make_client(s.base_url, llm.LOCAL_API_KEY, timeout, retries, guard) for s in servers]
            yield llm.LLM(clients, model=name, model_id=model_id, api=cfg["api"], decoding=decoding, cache=cache,
                          guard=guard, request_seconds=request_seconds, key_fields=key_fields)
    else:
        # A remote generator's key stays what it was: endpoint, model, request and decoding (never the API key).
        if only := [k for k in LLAMA_CPP_ONLY if k in decoding]:
            raise llm.LLMError(f"generators.{name}.decoding.{only[0]}: only a llama_cpp generator takes it (OpenAI's "
                               f"API refuses unknown fields); remove it from generator {name!r} of kind {cfg['kind']}")
        base_url = cfg.get("base_url") or "https://api.openai.com/v1"
        key = llm.api_key(cfg.get("api_key_env") or "OPENAI_API_KEY", name)
        guard = llm.RequestGuard()
        client = llm.make_client(base_url, key, timeout, retries, guard)
        generator = llm.LLM(client, model=cfg["model"], model_id=f"{base_url.rstrip('/')}|{cfg['model']}",
                            api=cfg["api"], decoding=decoding, cache=cache, guard=guard,
                            request_seconds=request_seconds)
        generator.check_model()
        yield generator


def translate_all(generator: llm.LLM, payloads: list[dict], concurrency: int, desc: str) -> list[dict]:
    """Answers in input order; `concurrency` requests in flight; a progress bar with rate and time left. Checks
    the endpoint twice a second while it waits: when a local server dies, what is queued is cancelled and its
    error (exit status, log) is raised at once; every answer already received is in the response cache."""
    pool = ThreadPoolExecutor(max_workers=max(1, concurrency))
    try:
        with tqdm(total=len(payloads), desc=desc, unit="sent", file=sys.stderr, mininterval=2) as bar:
            futures = [pool.submit(generator.complete, p) for p in payloads]
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for f in done:
                    f.result()  # the first failure stops the stage
                bar.update(len(done))
                generator.check_alive()
            return [f.result() for f in futures]
    finally:
        # Requests in flight end by themselves: every attempt checks the server first (llm.RequestGuard).
        pool.shutdown(wait=True, cancel_futures=True)
