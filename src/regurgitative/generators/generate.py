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
  results/generators/<g>.json        E2 scores, flag rates, requests, cache hits, tokens, cost
  logs/times/generate@<g>.json       wall time and speed (not an output: they differ on every run)
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from regurgitative import timing
from regurgitative.generators import llama_server, llm
from regurgitative.generators.generated import (first_lines, fresh_dirs, item, pool_size, sentences_to_translate,
                                                write_outputs)
from regurgitative.generators.response_cache import ResponseCache
from regurgitative.generators.translation import build_payload, endpoint, few_shot_examples, translate_all
from regurgitative.params import load_params, param
from regurgitative.paths import LLM_CACHE_DIR, LOGS_DIR, PREPARED_DIR


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


def generate(name: str) -> dict:
    params = load_params()
    cfg = generator_config(params, name)
    g = param(params, "generate")
    template = param(params, f"prompts.{cfg['prompt']}")
    sentences = sentences_to_translate(params, name)
    # Shots fit the students' whole pool, not this generator's share of it: a sentence's answer does not depend
    # on how much of the pool its generator translates (generators.<name>.pool_size).
    shots = few_shot_examples(int(template.get("shots", 0)), first_lines(PREPARED_DIR / "pool.de", pool_size(params)))

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
    metrics = write_outputs(name, cfg, items, g["flagged"], {
        "requests": usage.requests, "cache_hits": usage.cache_hits, "cached_before": cached_before,
        "prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
        "retried_bad_answers": usage.retried_bad_answers, "finish_reasons": usage.by_finish_reason,
        "cost_usd": usage.cost(cfg.get("price_per_million_tokens"))})
    timing.record(f"generate@{name}", wall_seconds=round(seconds, 1),
                  sentences_per_second=round(usage.requests / seconds, 3) if usage.requests else None)
    return metrics


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
