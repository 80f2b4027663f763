"""Benchmark: LLM generation speed. Measures and prints; asserts nothing.

    python benchmarks/bench_generation.py                      # gemma3-270m, 40 pool sentences
    python benchmarks/bench_generation.py --generator smollm2-135m -n 60
    python benchmarks/bench_generation.py --builds /tmp/ggml/avx512/libggml-cpu.so /tmp/ggml/native/libggml-cpu.so

--builds: the installed llama.cpp (the Makefile's portable x86-64-v3 build) against other builds of its CPU
backend (benchmarks/build_ggml_cpu.sh makes them): per build, sentences and tokens per second of one server
(generate.server settings) on the same prompts, whether its greedy outputs equal the installed build's, and how
a build that cannot run on this CPU died.

Run from the repository root after `dvc repro` has prepared the corpus (data/prepared). For one local
generator of params.yaml, on the same server and the same prompts:
  0. one server using every core, asked one sentence at a time (what replicas are compared with);
  1. the server alone: generate.server's replicas asked by bare openai-client calls, one in flight each;
  2. the pipeline: translation.translate_all on the same replicas through an empty response cache;
  3. the pipeline again on the warm cache (requests made, seconds);
and, separately, how long loading a response cache of 100,000 items takes.
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from regurgitative.generators import generate, generated, llama_server, llm, translation
from regurgitative.generators.response_cache import ResponseCache, request_key
from regurgitative.params import load_params, param
from regurgitative.paths import PREPARED_DIR


def server_alone(clients: list, cfg: dict, name: str, payloads: list[dict]) -> float:
    """Sentences per second of raw openai-client calls, one in flight per server, no cache."""
    decoding = {k: v for k, v in (cfg.get("decoding") or {}).items() if v is not None}
    known = llm.openai_fields(cfg["api"])  # llama.cpp-only fields (repeat_penalty) travel in extra_body
    decoding = {**{k: v for k, v in decoding.items() if k in known},
                "extra_body": {k: v for k, v in decoding.items() if k not in known}}
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


def llama_cpp_with(lib: Path, into: Path) -> Path:
    """A copy of the installed llama_cpp package whose CPU backend is `lib`; put its parent first on PYTHONPATH
    and a server started then loads it."""
    import importlib.util
    import shutil
    installed = Path(next(iter(importlib.util.find_spec("llama_cpp").submodule_search_locations)))
    copy = into / "llama_cpp"
    shutil.copytree(installed, copy, symlinks=True)
    for name in [p.name for p in (copy / "lib").glob("libggml-cpu.so*")]:  # .so, .so.0 (what libggml loads), ...
        (copy / "lib" / name).unlink()
        shutil.copy2(lib, copy / "lib" / name)
    return into


def measure_build(build: Path | None, name: str, cfg: dict, gguf: Path, settings: dict, payloads: list[dict],
                  decoding: dict) -> tuple[dict, list[str] | None]:
    """One server with the installed llama.cpp (build None) or with `build` as its CPU backend: a warm-up
    request, then every payload one at a time; or how it died."""
    with tempfile.TemporaryDirectory() as tmp:
        saved = os.environ.get("PYTHONPATH")
        if build is not None:
            os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(llama_cpp_with(build, Path(tmp))), saved]))
        entry: dict = {"amx_instructions": llama_server.amx_instructions(
            (Path(tmp) / "llama_cpp" / "lib") if build is not None else None)}
        try:
            with llama_server.serve(gguf, alias=name, settings=settings, log=Path(tmp) / "server.log") as server:
                client = llm.make_client(server.base_url, llm.LOCAL_API_KEY, 120, 0, llm.RequestGuard(server.check))
                ask = client.completions.create if cfg["api"] == "completions" else client.chat.completions.create
                try:
                    ask(model=name, **payloads[0], **decoding)  # warm-up: pages in
                    start, texts, tokens = time.perf_counter(), [], 0
                    for p in payloads:
                        r = ask(model=name, **p, **decoding)
                        choice = r.choices[0]
                        texts.append(choice.text if cfg["api"] == "completions" else choice.message.content)
                        tokens += r.usage.completion_tokens
                except llm.openai.OpenAIError:
                    time.sleep(0.5)
                    server.check()  # a crash explains the failed request
                    raise
                seconds = time.perf_counter() - start
            entry.update(sentences_per_s=round(len(payloads) / seconds, 3), tokens_per_s=round(tokens / seconds, 1))
            return entry, texts
        except (llama_server.ServerError, llm.LLMError, llm.openai.OpenAIError) as e:
            entry["died"] = str(e).splitlines()[0][:300]
            return entry, None
        finally:
            if saved is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = saved


def compare_builds(a: argparse.Namespace) -> dict:
    params = load_params()
    cfg = generate.generator_config(params, a.generator)
    template = param(params, f"prompts.{cfg['prompt']}")
    des = generated.first_lines(PREPARED_DIR / "pool.de", a.n)
    shots = translation.few_shot_examples(int(template.get("shots", 0)), des)
    payloads = [translation.build_payload(template, cfg["api"], de, shots) for de in des]
    decoding = {k: v for k, v in (cfg.get("decoding") or {}).items() if v is not None}
    known = llm.openai_fields(cfg["api"])  # llama.cpp-only fields (repeat_penalty) travel in extra_body
    decoding = {**{k: v for k, v in decoding.items() if k in known},
                "extra_body": {k: v for k, v in decoding.items() if k not in known}}
    settings = {k: v for k, v in (param(params, "generate").get("server") or {}).items() if k != "replicas"}
    gguf = llama_server.gguf_path(cfg["model"])
    results: dict = {"generator": a.generator, "sentences": a.n, "server": settings,
                     "cpu_flags": sorted({f for line in Path("/proc/cpuinfo").read_text().splitlines()
                                          if line.startswith("flags") for f in line.split(":")[1].split()
                                          if f.startswith(("avx512", "amx", "avx_vnni", "avx2"))}),
                     "repeat": a.repeat, "builds": {}}
    reference = None
    names = {None: "installed (Makefile, x86-64-v3)", **{b: str(b) for b in a.builds}}
    for round_ in range(a.repeat):  # builds in turn, so that a slow spell of the machine hits them all
        for build, name in names.items():
            entry = results["builds"].setdefault(name, {"sentences_per_s": [], "tokens_per_s": []})
            if "died" in entry:
                continue
            measured, texts = measure_build(build, a.generator, cfg, gguf, settings, payloads, decoding)
            entry.update({k: v for k, v in measured.items() if k not in ("sentences_per_s", "tokens_per_s")})
            for k in ("sentences_per_s", "tokens_per_s"):
                if k in measured:
                    entry[k].append(measured[k])
            if texts is not None:
                reference = texts if reference is None else reference
                entry["same_outputs_as_installed"] = sum(x == y for x, y in zip(texts, reference))
            print(name, round_, measured, file=sys.stderr)
    for entry in results["builds"].values():
        if entry["sentences_per_s"]:
            entry["median_sentences_per_s"] = statistics.median(entry["sentences_per_s"])
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generator", default="gemma3-270m")
    ap.add_argument("-n", type=int, default=40, help="pool sentences to translate")
    ap.add_argument("--cache-items", type=int, default=100_000)
    ap.add_argument("--builds", nargs="*", type=Path, metavar="LIBGGML_CPU_SO",
                    help="compare the installed llama.cpp with these builds of libggml-cpu.so")
    ap.add_argument("--repeat", type=int, default=3, help="rounds over the builds (--builds)")
    a = ap.parse_args()
    if a.builds is not None:
        print(json.dumps(compare_builds(a), indent=2))
        return
    params = load_params()
    cfg = generate.generator_config(params, a.generator)
    g = param(params, "generate")
    template = param(params, f"prompts.{cfg['prompt']}")
    des = generated.first_lines(PREPARED_DIR / "pool.de", a.n)
    shots = translation.few_shot_examples(int(template.get("shots", 0)), des)
    payloads = [translation.build_payload(template, cfg["api"], de, shots) for de in des]
    gguf = llama_server.gguf_path(cfg["model"])
    settings = dict(g.get("server") or {})
    replicas = int(settings.pop("replicas", 1) or 1)
    timeout, retries = float(g["timeout_seconds"]), int(g["max_retries"])
    results: dict = {"generator": a.generator, "sentences": a.n, "replicas": replicas, "server": settings,
                     "concurrency": g["concurrency"]}
    with tempfile.TemporaryDirectory() as tmp:
        one = {**settings, "n_threads": os.cpu_count()}
        with llama_server.serve(gguf, alias=a.generator, settings=one, log=Path(tmp) / "one.log") as server:
            clients = [llm.make_client(server.base_url, llm.LOCAL_API_KEY, timeout, retries)]
            server_alone(clients, cfg, a.generator, payloads[:2])  # warm-up: pages in, prefix cached
            results[f"one_server_{os.cpu_count()}_threads_sent_per_s"] = round(
                server_alone(clients, cfg, a.generator, payloads), 3)
        with llama_server.serve_replicas(gguf, a.generator, replicas, settings, Path(tmp)) as servers:
            clients = [llm.make_client(s.base_url, llm.LOCAL_API_KEY, timeout, retries) for s in servers]
            server_alone(clients, cfg, a.generator, payloads[:2 * replicas])
            results["server_alone_sent_per_s"] = round(server_alone(clients, cfg, a.generator, payloads), 3)
            with ResponseCache(Path(tmp) / "cache.jsonl") as cache:
                generator = llm.LLM(clients, model=a.generator, model_id="bench", api=cfg["api"],
                                    decoding=dict(cfg.get("decoding") or {}), cache=cache)
                start = time.perf_counter()
                translation.translate_all(generator, payloads, int(g["concurrency"]), "pipeline")
                results["pipeline_sent_per_s"] = round(a.n / (time.perf_counter() - start), 3)
                results["pipeline_tokens_out"] = generator.usage.completion_tokens
                before = generator.usage.requests
                start = time.perf_counter()
                translation.translate_all(generator, payloads, int(g["concurrency"]), "warm cache")
                results["warm_rerun_requests"] = generator.usage.requests - before
                results["warm_rerun_seconds"] = round(time.perf_counter() - start, 3)
    results["pipeline_vs_server_alone"] = round(results["pipeline_sent_per_s"] / results["server_alone_sent_per_s"], 3)
    results[f"cache_load_{a.cache_items}_items_s"] = round(cache_load_seconds(a.cache_items), 2)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
