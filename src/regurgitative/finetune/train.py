"""E10, the paper's headline: a base LLM fine-tuned on real pairs, on its own translations of the pool ("self")
and on other generators' translations, at growing sizes; the fine-tuned model translates the human test set
and is scored with sacreBLEU like every student.

Stages (`python -m regurgitative.finetune.train base | run ...`):
  finetune-base                    the base model before fine-tuning, zero-shot and few-shot (the baseline):
                                   results/finetune/base/{zero-shot,few-shot}.en and metrics.json
  finetune@{condition}-{size}-{seed}
                                   the base model fine-tuned on the first `size` pairs of the condition's pool
                                   (data/conditions/<condition>/, the same German sentences in every condition,
                                   only the English differs); models/finetune/<run>/ (the LoRA adapter and
                                   training.json, or the service's job record); results/finetune/<run>/
                                   (test.en, metrics.json); data/finetune-state/<run>/ (persisted: an OpenAI job's
                                   state and the response cache of its translations, so nothing is paid twice)

Times (the stage's, and a local run's training seconds and tokens per second) go to logs/times/<stage>.json, not
into the outputs.

The prompt is the base generator's template (`prompts`, `generators.<base>.prompt`) with no shots, both when the
model learns and when it translates; the base model's few-shot row uses the template's shots (validation pairs).
Backends (`finetune.backend`): `local` (finetune_local.py: LoRA with transformers and peft, the weights of the
generator's GGUF package, batched greedy decoding) and `openai` (finetune_openai.py: OpenAI's fine-tuning API or
a compatible service; translation through the same openai-client code as generation).

    python -m regurgitative.finetune.train estimate    # the dry run: training tokens and the OpenAI cost of the grid
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from regurgitative import cleaning, timing
from regurgitative.finetune import openai_api as finetune_openai
from regurgitative.finetune.runs import BASE, MODELS, RESULTS, SHOTS, STATE, run_name
from regurgitative.generators import llama_server, llm
from regurgitative.generators.response_cache import ResponseCache, request_key
from regurgitative.generators.translation import build_payload, endpoint, few_shot_examples, translate_all
from regurgitative.params import load_params, param
from regurgitative.paths import CONDITIONS_DIR, LANGS, PREPARED_DIR
from regurgitative.scoring import score
from regurgitative.text import read_lines

SRC, TGT = LANGS


def settings(params: dict) -> dict:
    """The finetune section, checked: the backend, the base generator and its kind, the sizes against the
    conditions' pools."""
    cfg = param(params, "finetune")
    backend = param(params, "finetune.backend")
    if backend not in ("local", "openai"):
        raise ValueError(f"params.yaml: finetune.backend must be local or openai, not {backend!r}")
    base = param(params, "finetune.base")
    generator = param(params, f"generators.{base}")
    wanted = "llama_cpp" if backend == "local" else "openai"
    if generator.get("kind") != wanted:
        raise ValueError(f"params.yaml: finetune.base is {base!r}, a generator of kind {generator.get('kind')!r}; "
                         f"backend {backend} fine-tunes a generator of kind {wanted}")
    return cfg


def template_of(params: dict) -> tuple[dict, dict]:
    base = param(params, "finetune.base")
    generator = param(params, f"generators.{base}")
    return generator, param(params, f"prompts.{generator['prompt']}")


def test_set(params: dict) -> tuple[list[str], list[str]]:
    """The first finetune.test_size sentences of the human test set (all of them when null)."""
    de, en = read_lines(PREPARED_DIR / f"test.{SRC}"), read_lines(PREPARED_DIR / f"test.{TGT}")
    n = param(params, "finetune.test_size")
    return (de, en) if n is None else (de[:int(n)], en[:int(n)])


def training_pairs(condition: str, size: int) -> list[tuple[str, str]]:
    """The first `size` pairs of the condition's pool; an error naming the file when it holds fewer, or when its
    German is not the prepared pool's (the same sentences in every condition)."""
    folder = CONDITIONS_DIR / condition
    de, en = read_lines(folder / f"pool.{SRC}"), read_lines(folder / f"pool.{TGT}")
    if len(de) != len(en):
        raise ValueError(f"{folder}: pool.{SRC} has {len(de)} lines, pool.{TGT} {len(en)}: not aligned")
    if len(de) < size:
        raise ValueError(f"{folder}/pool.{SRC}: {len(de)} pairs, but finetune.sizes asks for {size}; lower the size "
                         f"or raise grid.train_sizes (a generator translates the pool as far as the largest size)")
    return list(zip(de[:size], en[:size]))


def write_results(folder: Path, name: str, hypotheses: list[str], references: list[str], extra: dict) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.{TGT}").write_text("".join(h + "\n" for h in hypotheses), encoding="utf-8")
    return {**score(hypotheses, references), **extra}


def cleaned(answers: list[str], german: list[str]) -> list[str]:
    """The translations as generation cleans them (cleaning.py): one line, no labels or preambles."""
    return [cleaning.clean(a, de).text for a, de in zip(answers, german)]


# ------------------------------------------------------------------------------------------------ stages
def base_stage() -> dict:
    params = load_params()
    cfg = settings(params)
    generator, template = template_of(params)
    de, en = test_set(params)
    shots = few_shot_examples(int(template.get("shots", 0)), read_lines(PREPARED_DIR / f"pool.{SRC}"))
    payloads = {"zero-shot": [build_payload(template, generator["api"], d, []) for d in de],
                "few-shot": [build_payload(template, generator["api"], d, shots) for d in de]}
    start = time.perf_counter()
    if not cfg["conditions"]:   # E10 switched off: the stage costs nothing
        folder = RESULTS / BASE
        folder.mkdir(parents=True, exist_ok=True)
        metrics = {"switched_off": True, "why": "finetune.conditions is empty"}
        (folder / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
        (STATE / BASE).mkdir(parents=True, exist_ok=True)
        return metrics
    if cfg["backend"] == "local":
        answers = _base_local(params, generator, payloads)
        from regurgitative.finetune import local as finetune_local
        env = finetune_local.environment()
    else:
        answers = _ask_openai(params, param(params, "finetune.base"), generator, payloads, STATE / BASE)
        env = {"backend": "openai", "model": generator["model"]}
    folder = RESULTS / BASE
    metrics = {k: write_results(folder, k, cleaned(answers[k], de), en, {"shots": len(shots) if k == "few-shot" else 0})
               for k in SHOTS}
    seconds = round(time.perf_counter() - start, 1)
    metrics.update(base=param(params, "finetune.base"), backend=cfg["backend"], test_sentences=len(de),
                   environment=env)
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    timing.record("finetune-base", seconds=seconds)
    return metrics


def _base_local(params: dict, generator: dict, payloads: dict[str, list[dict]]) -> dict[str, list[str]]:
    """The base model's answers through transformers, cached (data/finetune-state/base/responses.jsonl, persisted)
    under the weights' hash, the prompt and the decoding: a re-run after a change to the grid asks nothing
    again, and a killed run resumes."""
    from regurgitative.finetune import local as finetune_local
    local = param(params, "finetune.local")
    gguf = llama_server.gguf_path(generator["model"])
    model_id = f"gguf-sha256:{llama_server.file_sha256(gguf)}"
    (STATE / BASE).mkdir(parents=True, exist_ok=True)
    with ResponseCache(STATE / BASE / "responses.jsonl") as cache:
        model = tokenizer = None
        answers = {}
        for shots, bodies in payloads.items():
            keys = [request_key({"backend": "transformers", "model": model_id, **body, **generator["decoding"]})
                    for body in bodies]
            missing = [i for i, k in enumerate(keys) if k not in cache]
            if missing:
                if model is None:
                    model, tokenizer = finetune_local.load(gguf, local.get("threads"))
                texts = finetune_local.translate(
                    model, tokenizer, [finetune_local.prompt_text(tokenizer, bodies[i]) for i in missing],
                    generator["decoding"], int(local["decode_batch_size"]))
                for i, text in zip(missing, texts):
                    cache.put(keys[i], bodies[i], {"text": text})
            answers[shots] = [cache.get(k)["text"] for k in keys]
    return answers


def run_stage(condition: str, size: int, seed: int) -> dict:
    params = load_params()
    cfg = settings(params)
    generator, template = template_of(params)
    pairs = training_pairs(condition, size)
    de, en = test_set(params)
    name = run_name(condition, size, seed)
    model_dir, results_dir, state_dir = MODELS / name, RESULTS / name, STATE / name
    start = time.perf_counter()
    times = {}
    if cfg["backend"] == "local":
        record, answers, times = _local_run(params, generator, template, pairs, de, seed, model_dir)
        state_dir.mkdir(parents=True, exist_ok=True)   # nothing to resume: a local run is redone whole
        (state_dir / "backend.json").write_text(json.dumps({"backend": "local"}) + "\n")
    else:
        record, answers = _openai_run(params, generator, template, pairs, de, seed, name, state_dir, model_dir)
    seconds = round(time.perf_counter() - start, 1)
    metrics = write_results(results_dir, "test", cleaned(answers, de), en, {
        "condition": condition, "size": size, "seed": seed, "base": param(params, "finetune.base"),
        "backend": cfg["backend"], "test_sentences": len(de),
        **{k: record[k] for k in ("tokens", "trained_tokens", "cost_usd", "fine_tuned_model", "job_id",
                                  "final_train_loss") if k in record}})
    (results_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    timing.record(f"finetune@{condition}-{size}-{seed}", seconds=seconds, **times)
    return metrics


def _local_run(params, generator, template, pairs, de, seed, model_dir):
    from regurgitative.finetune import local as finetune_local
    hp = dict(param(params, "finetune.local"))
    model, tokenizer = finetune_local.load(llama_server.gguf_path(generator["model"]), hp.get("threads"))
    examples = []
    for d, e in pairs:
        payload = build_payload(template, generator["api"], d, [])
        examples.append(finetune_local.encode(tokenizer, finetune_local.prompt_text(tokenizer, payload),
                                              finetune_local.answer_text(tokenizer, payload, e, template),
                                              int(hp["max_length"])))
    record = finetune_local.train(model, tokenizer, examples, hp, seed)
    peft_model = record.pop("model")
    # Times go to logs/times, not into training.json (an output): they differ on every run.
    times = {"train_seconds": record.pop("seconds"), "train_tokens_per_second": record.pop("tokens_per_second")}
    record.update(hyperparameters=hp, seed=seed, base_gguf=llama_server.gguf_path(generator["model"]).name,
                  base_sha256=llama_server.file_sha256(llama_server.gguf_path(generator["model"])),
                  environment=finetune_local.environment(), final_train_loss=record["curve"][-1]["train_loss"])
    finetune_local.save_adapter(peft_model, model_dir, record)
    prompts = [finetune_local.prompt_text(tokenizer, build_payload(template, generator["api"], d, [])) for d in de]
    start = time.perf_counter()
    answers = finetune_local.translate(peft_model, tokenizer, prompts, generator["decoding"],
                                       int(hp["decode_batch_size"]))
    return record, answers, {**times, "translate_seconds": round(time.perf_counter() - start, 1)}


def openai_examples(template: dict, pairs: list[tuple[str, str]]) -> list[dict]:
    """Chat-format training examples: the instruct template's system message and user turn, no shots."""
    if "user" not in template:
        raise ValueError("finetune.backend openai fine-tunes a chat model: the base generator's prompt template "
                         "needs `system` and `user` (an instruct template)")
    return [finetune_openai.chat_example(template.get("system"), template["user"].format(de=d), e) for d, e in pairs]


def _client(params: dict, generator: dict) -> finetune_openai.openai.OpenAI:
    base_url = generator.get("base_url") or "https://api.openai.com/v1"
    key = llm.api_key(generator.get("api_key_env") or "OPENAI_API_KEY", param(params, "finetune.base"))
    return llm.make_client(base_url, key, float(param(params, "generate.timeout_seconds")),
                           int(param(params, "generate.max_retries")), llm.RequestGuard())


def _openai_run(params, generator, template, pairs, de, seed, name, state_dir, model_dir):
    o = param(params, "finetune.openai")
    data = finetune_openai.training_file(openai_examples(template, pairs))
    state = finetune_openai.fine_tune(
        _client(params, generator), data, model=o["model"], hyperparameters=dict(o["hyperparameters"]), seed=seed,
        suffix=o.get("suffix"), state_dir=state_dir, poll_seconds=float(o["poll_seconds"]),
        timeout_seconds=o.get("timeout_seconds"), price_per_million=o.get("price_per_million_training_tokens"),
        log=lambda m: print(m, file=sys.stderr, flush=True))
    model_dir.mkdir(parents=True, exist_ok=True)
    record = {k: state.get(k) for k in ("job_id", "fine_tuned_model", "trained_tokens", "cost_usd", "status",
                                        finetune_openai.HASH_KEY)}
    (model_dir / "job.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    tuned = {**generator, "model": state["fine_tuned_model"]}
    payloads = {"test": [build_payload(template, generator["api"], d, []) for d in de]}
    return record, _ask_openai(params, name, tuned, payloads, state_dir)["test"]


def _ask_openai(params: dict, name: str, generator: dict, payloads: dict[str, list[dict]], state_dir: Path) -> dict:
    """Answers through generation's own endpoint code (llm.py), cached in state_dir/responses.jsonl."""
    state_dir.mkdir(parents=True, exist_ok=True)
    concurrency = int(param(params, "generate.concurrency"))
    with ResponseCache(state_dir / "responses.jsonl") as cache, \
            endpoint(name, generator, params, cache, state_dir) as client:
        return {k: [a["text"] for a in translate_all(client, v, concurrency, f"{name} {k}")] for k, v in payloads.items()}


# ------------------------------------------------------------------------------------------------ dry run
def estimate(params: dict) -> dict:
    """What the grid would train on and, through OpenAI, cost: per run and in all (nothing is sent)."""
    cfg = settings(params)
    _, template = template_of(params)
    o = param(params, "finetune.openai")
    epochs = o["hyperparameters"].get("n_epochs")
    epochs = 3 if epochs in (None, "auto") else int(epochs)   # OpenAI's 'auto' for a few thousand examples
    runs = []
    for condition in cfg["conditions"]:
        pool = CONDITIONS_DIR / condition / f"pool.{SRC}"
        have = len(read_lines(pool)) if pool.exists() else 0
        for size in cfg["sizes"]:
            # before generation a condition's pool does not exist, or not that far: real's English stands in
            source = condition if have >= int(size) else "real"
            data = finetune_openai.training_file(openai_examples(template, training_pairs(source, int(size))))
            est = finetune_openai.estimate(data, epochs, o.get("price_per_million_training_tokens"))
            runs.append({"condition": condition, "estimated_on": source, "size": int(size),
                         "seeds": len(cfg["seeds"]), **est})
    total_tokens = sum(r.get("estimated_training_tokens", 0) * r["seeds"] for r in runs)
    price = o.get("price_per_million_training_tokens")
    return {"backend": cfg["backend"], "model": o["model"], "n_epochs": epochs, "runs": runs,
            "total_training_tokens": total_tokens,
            "total_cost_usd": None if price is None else round(total_tokens * float(price) / 1e6, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("base", help="stage finetune-base: the base model, zero-shot and few-shot")
    run = sub.add_parser("run", help="stage finetune@: fine-tune on one condition, size and seed, then translate")
    run.add_argument("--condition", required=True)
    run.add_argument("--size", type=int, required=True)
    run.add_argument("--seed", type=int, required=True)
    sub.add_parser("estimate", help="the dry run: training tokens and the estimated OpenAI cost; sends nothing")
    a = ap.parse_args()
    stage = "finetune-base" if a.command == "base" else "finetune estimate" if a.command == "estimate" else \
        f"finetune@{a.condition}-{a.size}-{a.seed}"
    try:
        if a.command == "base":
            result = base_stage()
        elif a.command == "run":
            result = run_stage(a.condition, a.size, a.seed)
        else:
            result = estimate(load_params())
        print(json.dumps(result, indent=2))
    except (finetune_openai.FineTuneError, llm.LLMError, llama_server.ServerError, KeyError, ValueError,
            FileNotFoundError) as e:
        sys.exit(f"{stage}: {e}")


if __name__ == "__main__":
    main()
