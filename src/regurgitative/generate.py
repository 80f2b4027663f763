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
import shutil
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

from tqdm import tqdm

from . import cleaning, llama_server, llm, scoring
from .config import (CONDITIONS_DIR, GENERATED_DIR, LLM_CACHE_DIR, LOGS_DIR, PREPARED_DIR, RESULTS_DIR,
                     load_params, param)
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


def pool_size(params: dict) -> int:
    """How much of the pool a generator translates (generate.pool_size): the largest training size a
    regurgitative condition can have. A fixed number rather than max(grid.train_sizes), so that adding a
    size below it asks nothing and reruns no generation."""
    n = int(param(params, "generate.pool_size"))
    largest = max(int(s) for s in param(params, "grid.train_sizes"))
    if largest > n:
        raise ValueError(f"params.yaml: grid.train_sizes goes up to {largest} but generate.pool_size is {n}; "
                         f"raise generate.pool_size (the generators then translate the missing sentences only)")
    return n


def read_lines(path: Path, limit: int | None = None) -> list[str]:
    lines = scoring.read_lines(path)
    if limit is not None and limit > len(lines):
        raise ValueError(f"{path}: {len(lines)} sentences, but generate.pool_size asks for {limit}")
    return lines[:limit]


def detector_lines(params: dict) -> tuple[int, int]:
    """(start, count) of the detector split in the prepared pool: its last generate.detector_size sentences, so
    that the human-vs-generated detector (E7) learns from sentences no student, no teacher and no test set has."""
    count = int(param(params, "generate.detector_size"))
    available = len(read_lines(PREPARED_DIR / "pool.de"))
    teachers = [int(param(params, f"generators.{t}.train_pairs")) for t in params["grid"].get("teachers") or []]
    used = pool_size(params) + max(teachers, default=0)
    if available - count < used:
        raise ValueError(f"params.yaml: generate.detector_size is {count}, but the prepared pool has {available} "
                         f"pairs and the first {used} are the students' pool (generate.pool_size) and the teachers' "
                         f"training pairs (generators.<teacher>.train_pairs); lower one of them")
    return available - count, count


def sentences_to_translate(params: dict) -> dict[str, list[str]]:
    """What every generator translates: the first generate.pool_size pool sentences (the student pool), the
    first generate.test_size test sentences (E2) and the detector split (E7, see detector_lines)."""
    test_size = param(params, "generate.test_size")
    start, count = detector_lines(params)
    return {"pool": read_lines(PREPARED_DIR / "pool.de", pool_size(params)),
            "test": read_lines(PREPARED_DIR / "test.de", None if test_size is None else int(test_size)),
            "detector": read_lines(PREPARED_DIR / "pool.de")[start:start + count]}


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
    """An `llm.LLM` for the generator: a local llama.cpp server started for the block, or a remote API."""
    g = param(params, "generate")
    decoding = dict(cfg.get("decoding") or {})
    if cfg["kind"] == "llama_cpp":
        gguf = llama_server.gguf_path(cfg["model"])
        model_id = f"gguf-sha256:{llama_server.file_sha256(gguf)}"
        settings = dict(g.get("server") or {})
        replicas = int(settings.pop("replicas", 1) or 1)
        with llama_server.serve_replicas(gguf, alias=name, replicas=replicas, settings=settings,
                                         log_dir=log_dir) as urls:
            clients = [llm.make_client(u, llm.LOCAL_API_KEY, float(g["timeout_seconds"]), int(g["max_retries"]))
                       for u in urls]
            yield llm.LLM(clients, model=name, model_id=model_id, api=cfg["api"], decoding=decoding, cache=cache)
    else:
        base_url = cfg.get("base_url") or "https://api.openai.com/v1"
        key = llm.api_key(cfg.get("api_key_env") or "OPENAI_API_KEY", name)
        client = llm.make_client(base_url, key, float(g["timeout_seconds"]), int(g["max_retries"]))
        generator = llm.LLM(client, model=cfg["model"], model_id=f"{base_url.rstrip('/')}|{cfg['model']}",
                            api=cfg["api"], decoding=decoding, cache=cache)
        generator.check_model()
        yield generator


def translate_all(generator: llm.LLM, payloads: list[dict], concurrency: int, desc: str) -> list[dict]:
    """Answers in input order; `concurrency` requests in flight; a progress bar with rate and time left."""
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool, \
            tqdm(total=len(payloads), desc=desc, unit="sent", file=sys.stderr, mininterval=2) as bar:
        futures = [pool.submit(generator.complete, p) for p in payloads]
        answers = []
        for f in futures:
            answers.append(f.result())
            bar.update(1)
    return answers


# ------------------------------------------------------------------------------------------------- stage
def condition_pool(items: list[dict], policy: str) -> tuple[list[tuple[str, str]], list[dict]]:
    """The condition's (German, English) pairs in pool order, and the items left out (policy `drop`)."""
    if policy not in ("keep", "drop"):
        raise ValueError(f"params.yaml: generate.flagged must be keep or drop, not {policy!r}")
    kept, left_out = [], []
    for it in items:
        if policy == "drop" and it["flags"]:
            left_out.append({"index": it["index"], "de": it["de"], "flags": it["flags"]})
        else:
            kept.append((it["de"], it["text"]))
    return kept, left_out


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


# ---------------------------------------------------------------------------- outputs (shared by teacher@)
def fresh_dirs(name: str) -> Path:
    """Empty data/generated/<g>/ and data/conditions/<g>/; returns the former."""
    out, condition = GENERATED_DIR / name, CONDITIONS_DIR / name
    for d in (out, condition):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    return out


def item(split: str, index: int, de: str, answer: dict, request: dict) -> dict:
    """One generated sentence as items.jsonl records it: the request (prompt or messages, or a teacher's
    command), the raw answer, the cleaned translation and its flags."""
    c = cleaning.clean(answer["text"], de, answer["finish_reason"])
    return {"split": split, "index": index, "de": de, **request, "raw": answer["text"], "text": c.text,
            "flags": c.flags, "stripped": c.stripped, "finish_reason": answer["finish_reason"],
            "prompt_tokens": answer["prompt_tokens"], "completion_tokens": answer["completion_tokens"],
            "mean_logprob": answer["mean_logprob"]}


def write_outputs(name: str, cfg: dict, items: list[dict], flagged: str, usage: dict) -> dict:
    """Write a generator's items, its test-set translations, its condition and its E2 metrics; return
    the metrics."""
    out, condition = GENERATED_DIR / name, CONDITIONS_DIR / name
    with (out / "items.jsonl").open("w", encoding="utf-8") as f:
        for it in items:
            f.write(json.dumps(it, ensure_ascii=False) + "\n")
    test_items = [it for it in items if it["split"] == "test"]
    (out / "test.en").write_text("".join(it["text"] + "\n" for it in test_items), encoding="utf-8")
    pool_items = [it for it in items if it["split"] == "pool"]
    pairs, left_out = condition_pool(pool_items, flagged)
    for lang, k in (("de", 0), ("en", 1)):
        (condition / f"pool.{lang}").write_text("".join(p[k] + "\n" for p in pairs), encoding="utf-8")
    (condition / "left_out.json").write_text(json.dumps(left_out, ensure_ascii=False, indent=1) + "\n")

    metrics = {"generator": name, "kind": cfg["kind"], "model": cfg.get("model"), "api": cfg.get("api"),
               **{f"test_{k}": v for k, v in scoring.score(
                   [it["text"] for it in test_items],
                   read_lines(PREPARED_DIR / "test.en", len(test_items))).items()},
               "pool_sentences": len(pool_items), "test_sentences": len(test_items),
               "condition_pairs": len(pairs), "left_out": len(left_out),
               "flag_rates": {f: round(sum(f in it["flags"] for it in pool_items) / len(pool_items), 4)
                              for f in cleaning.FLAGS},
               "flagged_rate": round(sum(bool(it["flags"]) for it in pool_items) / len(pool_items), 4),
               **usage}
    path = RESULTS_DIR / "generators" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, indent=2) + "\n")
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
