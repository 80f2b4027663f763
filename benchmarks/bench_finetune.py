"""Benchmark: E10's local backend, LoRA fine-tuning and batched decoding of a local LLM (issue 13).
Measures and prints; asserts nothing. Reads the prepared pool (training pairs) and the validation split
(decoding), never the test set.

    python benchmarks/bench_finetune.py --generator smollm2-135m gemma3-270m --pairs 128 --batch-size 8

For each generator of params.yaml (kind llama_cpp): load time; LoRA training throughput (tokens per second,
prompt and answer tokens, padding excluded) over one epoch of --pairs real pool pairs with the finetune
section's hyperparameters (--epochs, --lr override them); decoding speed (sentences per second) of --decode
validation sentences with the generator's decoding settings, and their BLEU (with --baseline also the base
model's few-shot BLEU on the same sentences: what E10's fine-tuned models must beat). Prints the device (CPU threads, or the GPU and bf16) and appends a row to --out.
Run it alone on the machine: timings of jobs side by side say what they share.
"""
from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
from regurgitative.finetune import local as finetune_local
from regurgitative.finetune.train import cleaned
from regurgitative.generators import llama_server
from regurgitative.generators.translation import build_payload, few_shot_examples
from regurgitative.params import load_params, param
from regurgitative.paths import PREPARED_DIR
from regurgitative.scoring import score
from regurgitative.text import read_lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generator", nargs="+", default=["smollm2-135m"])
    ap.add_argument("--pairs", type=int, default=128, help="training pairs (one epoch)")
    ap.add_argument("--batch-size", type=int, default=None, help="default: finetune.local.batch_size")
    ap.add_argument("--decode", type=int, default=64, help="validation sentences to translate")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=None, help="default: finetune.local.lr")
    ap.add_argument("--baseline", action="store_true", help="also score the base model few-shot on the same sentences")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks/results/finetune.csv")
    a = ap.parse_args()
    params = load_params(REPO / "params.yaml")
    hp = dict(param(params, "finetune.local"))
    hp["epochs"] = a.epochs
    if a.lr:
        hp["lr"] = a.lr
    if a.batch_size:
        hp["batch_size"] = a.batch_size
    pool_de, pool_en = read_lines(PREPARED_DIR / "pool.de")[:a.pairs], read_lines(PREPARED_DIR / "pool.en")[:a.pairs]
    valid = list(zip(read_lines(PREPARED_DIR / "valid.de"), read_lines(PREPARED_DIR / "valid.en")))
    shot_pairs = set(few_shot_examples(8, pool_de))   # never score a sentence that may be a few-shot example
    valid = [p for p in valid if p not in shot_pairs][:a.decode]
    valid_de, valid_en = [d for d, _ in valid], [e for _, e in valid]
    rows = []
    for name in a.generator:
        cfg = param(params, f"generators.{name}")
        template = param(params, f"prompts.{cfg['prompt']}")
        start = time.perf_counter()
        model, tokenizer = finetune_local.load(llama_server.gguf_path(cfg["model"]), threads=a.threads)
        load_s = time.perf_counter() - start
        baseline = None
        if a.baseline:   # few-shot: the generator's shots (validation pairs; those sentences are skipped above)
            shots = few_shot_examples(int(template.get("shots", 0)), pool_de)
            prompts = [finetune_local.prompt_text(tokenizer, build_payload(template, cfg["api"], de, shots))
                       for de in valid_de]
            hyps = finetune_local.translate(model, tokenizer, prompts, cfg["decoding"], int(hp["decode_batch_size"]),
                                            log=lambda m: None)
            baseline = score(cleaned(hyps, valid_de), valid_en)["bleu"]
        payloads = [build_payload(template, cfg["api"], de, []) for de in pool_de]
        examples = [finetune_local.encode(tokenizer, finetune_local.prompt_text(tokenizer, p),
                                          finetune_local.answer_text(tokenizer, p, en, template), int(hp["max_length"]))
                    for p, en in zip(payloads, pool_en)]
        record = finetune_local.train(model, tokenizer, examples, hp, seed=1)
        prompts = [finetune_local.prompt_text(tokenizer, build_payload(template, cfg["api"], de, [])) for de in valid_de]
        start = time.perf_counter()
        hyps = finetune_local.translate(record["model"], tokenizer, prompts, cfg["decoding"],
                                        int(hp["decode_batch_size"]), log=lambda m: None)
        decode_s = time.perf_counter() - start
        env = finetune_local.environment()
        row = {"generator": name, "device": env["device"], "dtype": env["dtype"], "threads": env["threads"],
               "gpu": env["gpu"] or "", "load_s": round(load_s, 1), "pairs": a.pairs, "batch_size": hp["batch_size"],
               "lora_r": hp["lora_r"], "trainable_parameters": record["trainable_parameters"],
               "train_tokens": record["tokens"], "train_s": record["seconds"],
               "train_tokens_per_s": record["tokens_per_second"], "decode_sentences": len(prompts),
               "decode_s": round(decode_s, 1), "decode_sentences_per_s": round(len(prompts) / decode_s, 3),
               "epochs": hp["epochs"], "lr": hp["lr"], "final_train_loss": record["curve"][-1]["train_loss"],
               "valid_bleu": score(cleaned(hyps, valid_de), valid_en)["bleu"], "valid_bleu_few_shot_base": baseline}
        print(row, flush=True)
        rows.append(row)
        del model, record
    a.out.parent.mkdir(parents=True, exist_ok=True)
    new = not a.out.exists()
    with a.out.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        if new:
            w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    main()
