"""Stage `train@{condition}-{train_size}-{seed}`: a student transformer trained from scratch with
fairseq-train on one dataset. Architecture and optimisation come from params (train.fairseq_args, passed
through as fairseq flags); the exact command line is saved next to the model as train.sh."""
from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

from . import fairseq_tools
from .config import SRC, TGT, dataset_dir, load_params, model_dir, param


def fairseq_flags(args: dict) -> list[str]:
    """{'encoder-layers': 2, 'share-all-embeddings': True, 'fp16': False} -> ['--encoder-layers', '2',
    '--share-all-embeddings']; false and null leave a flag out."""
    flags: list[str] = []
    for key, value in args.items():
        if value is None or value is False:
            continue
        flags.append(f"--{key.replace('_', '-')}")
        if value is not True:
            flags.append(str(value))
    return flags


def resolve_device(device: str) -> str:
    import torch
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("params.yaml: train.device is 'cuda' but torch sees no GPU; use the default profile "
                           "on a CPU machine (`make profile PROFILE=default`) or set train.device: cpu")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"params.yaml: train.device must be cpu, cuda or auto, not {device!r}")
    return device


def command(data: Path, save_dir: Path, seed: int, cfg: dict) -> list[str]:
    device = resolve_device(cfg["device"])
    fairseq_args = dict(cfg["fairseq_args"])
    if device == "cpu":
        fairseq_args = {k: v for k, v in fairseq_args.items() if k not in ("fp16", "bf16", "memory-efficient-fp16")}
    return ["fairseq-train", str(data), "--task", "translation", "--source-lang", SRC, "--target-lang", TGT,
            *fairseq_flags(fairseq_args),
            "--seed", str(seed), "--save-dir", str(save_dir),
            # A student is its best checkpoint by validation loss; nothing else is kept.
            "--no-epoch-checkpoints", "--no-last-checkpoints", "--no-save-optimizer-state",
            # Without it fairseq silently drops the last incomplete batch.
            "--required-batch-size-multiple", "1",
            "--num-workers", "0", "--log-format", "json", "--log-interval", "1000000",
            *(["--cpu"] if device == "cpu" else [])]


_JSON = re.compile(r"\{.*\}\s*$")


def summarize_log(log: Path) -> dict:
    """Epoch summaries from fairseq's json log: the best validation loss and when, updates, speed."""
    train, valid = [], []
    for line in log.read_text(encoding="utf-8").splitlines():
        m = _JSON.search(line)
        if not m:
            continue
        try:
            record = json.loads(m.group(0))
        except json.JSONDecodeError:
            continue
        if "valid_loss" in record:
            valid.append(record)
        elif "train_loss" in record:
            train.append(record)
    if not valid:
        raise RuntimeError(f"{log}: no validation results; did training run at all?")
    best = min(valid, key=lambda r: float(r["valid_loss"]))
    train_wall = sum(float(r.get("train_train_wall", 0)) for r in train)
    words = sum(float(r.get("train_wps", 0)) * float(r.get("train_train_wall", 0)) for r in train)
    return {"epochs": len(valid), "best_epoch": int(best["epoch"]), "best_valid_loss": float(best["valid_loss"]),
            "best_valid_ppl": float(best.get("valid_ppl", "nan")), "updates": int(float(valid[-1]["valid_num_updates"])),
            "train_wall_seconds": round(train_wall, 1),
            "target_words_per_second": round(words / train_wall, 1) if train_wall else None}


def train(condition: str, train_size: int, seed: int) -> Path:
    cfg = param(load_params(), "train")
    out = model_dir(condition, train_size, seed)
    if out.exists():
        shutil.rmtree(out)  # a stale best checkpoint would otherwise be "resumed" by fairseq
    out.mkdir(parents=True)
    cmd = command(dataset_dir(condition, train_size), out, seed, cfg)
    fairseq_tools.save_command(cmd, out / "train.sh")
    seconds = fairseq_tools.run(cmd, log=out / "train.log", threads=cfg.get("threads"))
    summary = {"condition": condition, "train_size": train_size, "seed": seed, "wall_seconds": round(seconds, 1),
               **summarize_log(out / "train.log")}
    (out / "train.json").write_text(json.dumps(summary, indent=2) + "\n")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--condition", required=True)
    ap.add_argument("--train-size", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    a = ap.parse_args()
    train(a.condition, a.train_size, a.seed)


if __name__ == "__main__":
    main()
