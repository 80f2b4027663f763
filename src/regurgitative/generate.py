"""Stage `generate@{generator}`: a generator translates the German training pool (as far as the largest training
size reaches) and the test set; its answers are cleaned and flagged, the pool becomes the generator's
regurgitative condition, and its test-set translations are scored (E2: the generator's own quality).

Writes
  data/generated/<g>/items.jsonl     per sentence: split, index, German, the exact prompt, raw answer, cleaned
                                     translation, flags, what cleaning stripped, finish reason, tokens, logprob
  data/generated/<g>/test.en         the cleaned translations of the first generate.test_size test sentences
                                     (what E2 scores against the same references)
  data/conditions/<g>/pool.{de,en}   the condition's training pool, aligned; `generate.flagged` decides what
                                     happens to flagged items; data/conditions/<g>/left_out.json says what
  data/llm-cache/<g>.jsonl           the response cache (persists across `dvc repro`, pushed like any output)
  results/generators/<g>.json        E2 scores, flag rates, requests, cache hits, tokens, cost, speed
"""
from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Iterator

from tqdm import tqdm

from . import llama_server, llm
from .config import LLM_CACHE_DIR, LOGS_DIR, PREPARED_DIR, load_params, param
from .generated import fresh_dirs, item, read_lines, sentences_to_translate, write_outputs
from .response_cache import ResponseCache


def generator_config(params: dict, name: str) -> dict:
    cfg = param(params, f"generators.{name}")
    param(params, f"generators.{name}.kind")
    if cfg["kind"] == "fairseq":
        raise llm.LLMError(f"params.yaml: generators.{name} is a fairseq teacher: name it in grid.teachers "
                           f"(stage teacher@{name}), not in grid.generators")
    if cfg["kind"] not in ("llama_cpp", "openai"):
        raise llm.LLMError(f"params.yaml: generators.{name}.kind must be llama_cpp, openai or fairseq, "
                           f"not {cfg['kind']!r}")
    for key in ("api", "prompt", "model"):
        param(params, f"generators.{name}.{key}")
    return cfg


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
        with llama_server.serve_replicas(gguf, alias=name, replicas=replicas, settings=settings,
                                         log_dir=log_dir) as servers:
            guard = llm.RequestGuard(alive=lambda: [s.check() for s in servers])
            clients = [llm.make_client(s.base_url, llm.LOCAL_API_KEY, timeout, retries, guard) for s in servers]
            yield llm.LLM(clients, model=name, model_id=model_id, api=cfg["api"], decoding=decoding, cache=cache,
                          guard=guard, request_seconds=request_seconds)
    else:
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


# ------------------------------------------------------------------------------------------------- stage
def generate(name: str) -> dict:
    params = load_params()
    cfg = generator_config(params, name)
    g = param(params, "generate")
    template = param(params, f"prompts.{cfg['prompt']}")
    sentences = sentences_to_translate(params)
    shots = few_shot_examples(int(template.get("shots", 0)), sentences["pool"])

    fresh_dirs(name)
    cache_path = LLM_CACHE_DIR / f"{name}.jsonl"
    start = time.perf_counter()
    with ResponseCache(cache_path) as cache:
        cached_before = len(cache)
        if cache.dropped_partial_line:
            print(f"{cache_path}: dropped a line cut short by an interrupted run", file=sys.stderr)
        # The server's log (timestamps, ports) stays out of the DVC output, so that a re-run asking nothing
        # reproduces data/generated/<g>/ byte for byte.
        with endpoint(name, cfg, params, cache, LOGS_DIR / name) as generator:
            items = []
            for split, des in sentences.items():
                payloads = [build_payload(template, cfg["api"], de, shots) for de in des]
                answers = translate_all(generator, payloads, int(g["concurrency"]), f"{name} {split}")
                items += [item(split, i, de, a, payload) for i, (de, payload, a) in enumerate(zip(des, payloads, answers))]
        usage = generator.usage
    seconds = time.perf_counter() - start
    return write_outputs(name, cfg, items, g["flagged"], {
        "requests": usage.requests, "cache_hits": usage.cache_hits, "cached_before": cached_before,
        "prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
        "retried_bad_answers": usage.retried_bad_answers, "finish_reasons": usage.by_finish_reason,
        "cost_usd": usage.cost(cfg.get("price_per_million_tokens")), "wall_seconds": round(seconds, 1),
        "sentences_per_second": round(usage.requests / seconds, 3) if usage.requests else None})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generator", required=True, help="a name under `generators` in params.yaml")
    a = ap.parse_args()
    try:
        print(json.dumps(generate(a.generator), indent=2))
    except (llm.LLMError, llama_server.ServerError, KeyError, ValueError) as e:
        sys.exit(f"generate@{a.generator}: {e}")


if __name__ == "__main__":
    main()
