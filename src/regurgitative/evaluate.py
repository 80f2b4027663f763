"""Stage `evaluate@{condition}-{train_size}-{seed}`: the student translates the held-out human test set with
fairseq-generate (beam search); the detokenized output is saved and scored by sacreBLEU against the raw
human references. Writes results/eval/<run>/ (hypotheses, command, log) and the metrics
results/runs/<run>.json."""
from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

from . import fairseq_tools, scoring, tokenizer
from .config import PREPARED_DIR, SRC, TGT, eval_dir, load_params, model_dir, param, run_metrics
from .train import fairseq_flags, resolve_device

_HYPOTHESIS = re.compile(r"^H-(\d+)\t[^\t]*\t(.*)$")


def generate_command(checkpoint: Path, cfg: dict, device: str) -> list[str]:
    return ["fairseq-generate", str(tokenizer.BIN), "--path", str(checkpoint), "--task", "translation",
            "--source-lang", SRC, "--target-lang", TGT, "--gen-subset", "test",
            *fairseq_flags(cfg["fairseq_args"]),
            # fairseq's own sentencepiece post-processing: pieces joined, '▁' back to spaces.
            "--remove-bpe", "sentencepiece", "--required-batch-size-multiple", "1", "--num-workers", "0",
            *(["--cpu"] if device == "cpu" else [])]


def read_hypotheses(log: Path, expected: int) -> list[str]:
    """fairseq-generate prints hypotheses in batch order; put them back in test-set order."""
    by_id: dict[int, str] = {}
    for line in log.read_text(encoding="utf-8").splitlines():
        m = _HYPOTHESIS.match(line)
        if m:
            by_id[int(m.group(1))] = m.group(2)
    if sorted(by_id) != list(range(expected)):
        missing = sorted(set(range(expected)) - set(by_id))[:10]
        raise RuntimeError(f"{log}: {len(by_id)} hypotheses for {expected} test sentences (missing ids "
                           f"{missing}...)")
    return [by_id[i] for i in range(expected)]


def evaluate(condition: str, train_size: int, seed: int) -> dict:
    params = load_params()
    cfg = param(params, "evaluate")
    device = resolve_device(param(params, "train.device"))
    out = eval_dir(condition, train_size, seed)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    cmd = generate_command(model_dir(condition, train_size, seed) / "checkpoint_best.pt", cfg, device)
    fairseq_tools.save_command(cmd, out / "generate.sh")
    seconds = fairseq_tools.run(cmd, log=out / "generate.log", threads=param(params, "train").get("threads"))

    references = PREPARED_DIR / f"test.{TGT}"
    hypotheses = read_hypotheses(out / "generate.log", expected=len(scoring.read_lines(references)))
    hyp_file = out / f"hypotheses.{TGT}"
    hyp_file.write_text("".join(h + "\n" for h in hypotheses), encoding="utf-8")

    train_summary = json.loads((model_dir(condition, train_size, seed) / "train.json").read_text())
    metrics = {"condition": condition, "train_size": train_size, "seed": seed,
               **scoring.score_files(hyp_file, references),
               "generate_seconds": round(seconds, 1),
               **{k: train_summary[k] for k in ("best_epoch", "epochs", "updates", "best_valid_loss",
                                                "target_words_per_second")},
               "train_seconds": train_summary["wall_seconds"]}
    path = run_metrics(condition, train_size, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--condition", required=True)
    ap.add_argument("--train-size", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    a = ap.parse_args()
    print(json.dumps(evaluate(a.condition, a.train_size, a.seed), indent=2))


if __name__ == "__main__":
    main()
