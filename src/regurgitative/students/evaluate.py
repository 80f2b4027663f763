"""Stage `evaluate@{condition}-{train_size}-{seed}`: the student translates the held-out human test set with
fairseq-generate (beam search); the detokenized output is saved and scored by sacreBLEU against the raw
human references. Writes results/eval/<run>/ (hypotheses, command) and the metrics results/runs/<run>.json;
fairseq-generate's log goes to logs/fairseq/, the times to logs/times/ (neither is an output)."""
from __future__ import annotations

import json

from regurgitative import scoring, timing
from regurgitative.params import load_params, param
from regurgitative.paths import PREPARED_DIR, TGT, eval_dir, fresh_dir, model_dir, run_arguments, run_metrics, run_name
from regurgitative.students import fairseq, vocabulary
from regurgitative.text import read_lines

def evaluate(condition: str, train_size: int, seed: int) -> dict:
    params = load_params()
    cfg = param(params, "evaluate")
    device = fairseq.resolve_device(param(params, "train.device"))
    out = fresh_dir(eval_dir(condition, train_size, seed))
    cmd = fairseq.generate_command(vocabulary.BIN, model_dir(condition, train_size, seed) / "checkpoint_best.pt", cfg, device)
    fairseq.save_command(cmd, out / "generate.sh")
    log = fairseq.log_path(out / "generate.log")
    seconds = fairseq.run(cmd, log=log, threads=param(params, "train").get("threads"))

    references = PREPARED_DIR / f"test.{TGT}"
    hypotheses = [text for text, _ in fairseq.read_hypotheses(log, expected=len(read_lines(references)))]
    hyp_file = out / f"hypotheses.{TGT}"
    hyp_file.write_text("".join(h + "\n" for h in hypotheses), encoding="utf-8")

    train_summary = json.loads((model_dir(condition, train_size, seed) / "train.json").read_text())
    metrics = {"condition": condition, "train_size": train_size, "seed": seed,
               **scoring.score_files(hyp_file, references),
               **{k: train_summary[k] for k in ("best_epoch", "epochs", "updates", "best_valid_loss")}}
    path = run_metrics(condition, train_size, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, indent=2) + "\n")
    timing.record(f"evaluate@{run_name(condition, train_size, seed)}", generate_seconds=round(seconds, 1),
                  sentences_per_second=round(len(hypotheses) / seconds, 2))
    return metrics


def main() -> None:
    print(json.dumps(evaluate(*run_arguments(__doc__)), indent=2))


if __name__ == "__main__":
    main()
