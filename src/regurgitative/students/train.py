"""Stage `train@{condition}-{train_size}-{seed}`: a student transformer trained from scratch with
fairseq-train on one dataset. Architecture and optimisation come from params (train.fairseq_args, passed
through as fairseq flags); the exact command line is saved next to the model as train.sh, the time-free
summary of its epochs as train.json. fairseq's log goes to logs/fairseq/, the times to logs/times/ (neither
is an output: a rerun reproduces the model directory byte for byte)."""
from __future__ import annotations

from pathlib import Path

from regurgitative import timing
from regurgitative.params import load_params, param
from regurgitative.paths import dataset_dir, fresh_dir, model_dir, run_arguments, run_name
from regurgitative.students import fairseq


def train(condition: str, train_size: int, seed: int) -> Path:
    cfg = param(load_params(), "train")
    out = fresh_dir(model_dir(condition, train_size, seed))  # a stale best checkpoint would be "resumed"
    _, times = fairseq.train(dataset_dir(condition, train_size), out, seed, cfg, script=out / "train.sh",
                             about={"condition": condition, "train_size": train_size, "seed": seed})
    timing.record(f"train@{run_name(condition, train_size, seed)}", **times)
    return out


def main() -> None:
    train(*run_arguments(__doc__))


if __name__ == "__main__":
    main()
