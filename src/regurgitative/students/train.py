"""Stage `train@{condition}-{train_size}-{seed}`: a student transformer trained from scratch with
fairseq-train on one dataset. Architecture and optimisation come from params (train.fairseq_args, passed
through as fairseq flags); the exact command line is saved next to the model as train.sh."""
from __future__ import annotations

import json
from pathlib import Path

from regurgitative.config import dataset_dir, fresh_dir, load_params, model_dir, param, run_arguments
from regurgitative.students import fairseq


def train(condition: str, train_size: int, seed: int) -> Path:
    cfg = param(load_params(), "train")
    out = fresh_dir(model_dir(condition, train_size, seed))  # a stale best checkpoint would be "resumed"
    cmd = fairseq.train_command(dataset_dir(condition, train_size), out, seed, cfg)
    fairseq.save_command(cmd, out / "train.sh")
    seconds = fairseq.run(cmd, log=out / "train.log", threads=cfg.get("threads"))
    summary = {"condition": condition, "train_size": train_size, "seed": seed, "wall_seconds": round(seconds, 1),
               **fairseq.summarize_log(out / "train.log")}
    (out / "train.json").write_text(json.dumps(summary, indent=2) + "\n")
    return out


def main() -> None:
    train(*run_arguments(__doc__))


if __name__ == "__main__":
    main()
