"""Benchmark: LLM generation speed. Measures and prints; asserts nothing.

    python benchmarks/bench_generation.py                      # gemma3-270m, 40 pool sentences
    python benchmarks/bench_generation.py --generator smollm2-135m -n 60

Run from the repository root after `dvc repro` has prepared the corpus (data/prepared). For one local
generator of params.yaml, on the same server and the same prompts:
  0. one server using every core, asked one sentence at a time (what replicas are compared with);
  1. the server alone: generate.server's replicas asked by bare openai-client calls, one in flight each;
  2. the pipeline: generate.translate_all on the same replicas through an empty response cache;
  3. the pipeline again on the warm cache (requests made, seconds);
and, separately, how long loading a response cache of 100,000 items takes.
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from regurgitative import generate, llama_server, llm  # noqa: E402
from regurgitative.config import PREPARED_DIR, load_params, param  # noqa: E402
from regurgitative.response_cache import ResponseCache, request_key  # noqa: E402


def server_alone(clients: list, cfg: dict, name: str, payloads: list[dict]) -> float:
    """Sentences per second of raw openai-client calls, one in flight per server, no cache."""
    decoding = {k: v for k, v in (cfg.get("decoding") or {}).items() if v is not None}
    idle: queue.Queue = queue.Queue()
    for c in clients:
        idle.put(c)

    def ask(p: dict) -> None:
        client = idle.get()
        try:
            if cfg["api"] == "completions":
                client.completions.create(model=name, **p, **decoding)
            else:
                client.chat.completions.create(model=name, **p, **decoding)
        finally:
            idle.put(client)

    start = time.perf_counter()
    with ThreadPoolExecutor(len(clients)) as pool:
        list(pool.map(ask, payloads))
    return len(payloads) / (time.perf_counter() - start)


def cache_load_seconds(n: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cache.jsonl"
        with path.open("w") as f:
            for i in range(n):
                request = {"model_id": "m", "api": "completions", "prompt": f"German: Satz {i} " + "x" * 400}
                f.write(json.dumps({"key": request_key(request), "request": request,
                                    "response": {"text": f"Sentence {i}", "finish_reason": "stop",
                                                 "prompt_tokens": 120, "completion_tokens": 12,
                                                 "mean_logprob": -0.3}}) + "\n")
        start = time.perf_counter()
        cache = ResponseCache(path)
        seconds = time.perf_counter() - start
        assert len(cache) == n
        cache.close()
        return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generator", default="gemma3-270m")
    ap.add_argument("-n", type=int, default=40, help="pool sentences to translate")
    ap.add_argument("--cache-items", type=int, default=100_000)
    a = ap.parse_args()
    params = load_params()
    cfg = generate.generator_config(params, a.generator)
    g = param(params, "generate")
    template = param(params, f"prompts.{cfg['prompt']}")
    shots = generate.few_shot_examples(int(template.get("shots", 0)))
    des = generate.read_lines(PREPARED_DIR / "pool.de", a.n)
    payloads = [generate.build_payload(template, cfg["api"], de, shots) for de in des]
    gguf = llama_server.gguf_path(cfg["model"])
    settings = dict(g.get("server") or {})
    replicas = int(settings.pop("replicas", 1) or 1)
    timeout, retries = float(g["timeout_seconds"]), int(g["max_retries"])
    results: dict = {"generator": a.generator, "sentences": a.n, "replicas": replicas, "server": settings,
                     "concurrency": g["concurrency"]}
    with tempfile.TemporaryDirectory() as tmp:
        one = {**settings, "n_threads": os.cpu_count()}
        with llama_server.serve(gguf, alias=a.generator, settings=one, log=Path(tmp) / "one.log") as url:
            clients = [llm.make_client(url, llm.LOCAL_API_KEY, timeout, retries)]
            server_alone(clients, cfg, a.generator, payloads[:2])  # warm-up: pages in, prefix cached
            results[f"one_server_{os.cpu_count()}_threads_sent_per_s"] = round(
                server_alone(clients, cfg, a.generator, payloads), 3)
        with llama_server.serve_replicas(gguf, a.generator, replicas, settings, Path(tmp)) as urls:
            clients = [llm.make_client(u, llm.LOCAL_API_KEY, timeout, retries) for u in urls]
            server_alone(clients, cfg, a.generator, payloads[:2 * replicas])
            results["server_alone_sent_per_s"] = round(server_alone(clients, cfg, a.generator, payloads), 3)
            with ResponseCache(Path(tmp) / "cache.jsonl") as cache:
                generator = llm.LLM(clients, model=a.generator, model_id="bench", api=cfg["api"],
                                    decoding=dict(cfg.get("decoding") or {}), cache=cache)
                start = time.perf_counter()
                generate.translate_all(generator, payloads, int(g["concurrency"]), "pipeline")
                results["pipeline_sent_per_s"] = round(a.n / (time.perf_counter() - start), 3)
                results["pipeline_tokens_out"] = generator.usage.completion_tokens
                before = generator.usage.requests
                start = time.perf_counter()
                generate.translate_all(generator, payloads, int(g["concurrency"]), "warm cache")
                results["warm_rerun_requests"] = generator.usage.requests - before
                results["warm_rerun_seconds"] = round(time.perf_counter() - start, 3)
    results["pipeline_vs_server_alone"] = round(results["pipeline_sent_per_s"] / results["server_alone_sent_per_s"], 3)
    results[f"cache_load_{a.cache_items}_items_s"] = round(cache_load_seconds(a.cache_items), 2)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
