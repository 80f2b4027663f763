"""fairseq's command-line tools, for every model the study trains (students, teachers, E9's generations): the
commands (fairseq-train, fairseq-generate, fairseq-interactive), run visibly (every command printed and saved as a
script a reader could type again), and the one reader of what they print (epoch summaries, hypotheses)."""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

from regurgitative.config import SRC, TGT

# The venv's console scripts (fairseq-train, ...) sit next to its python, which may not be on PATH when a
# stage is started by a bare `.venv/bin/dvc repro`.
BIN_DIR = Path(sys.executable).parent


def fairseq_env(threads: int | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN_DIR}{os.pathsep}{env.get('PATH', '')}"
    # torch>=2.6 loads checkpoints with weights_only=True, which refuses fairseq's (argparse Namespace inside).
    env["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"
    env.setdefault("PYTHONWARNINGS", "ignore")
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return env


def command_line(cmd: list[str]) -> str:
    return shlex.join(cmd)


def run(cmd: list[str], *, log: Path | None = None, threads: int | None = None) -> float:
    """Run a fairseq command; stream its output to stderr (and to `log`); return the wall time in seconds.
    A failure raises with the command line and the tail of the output."""
    print(f"+ {command_line(cmd)}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    tail: list[str] = []
    log_file = log.open("w", encoding="utf-8") if log else None
    try:
        with subprocess.Popen(cmd, env=fairseq_env(threads), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, bufsize=1) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                sys.stderr.write(line)
                if log_file:
                    log_file.write(line)
                tail = (tail + [line])[-30:]
            rc = proc.wait()
    finally:
        if log_file:
            log_file.close()
    if rc != 0:
        raise RuntimeError(f"command failed with exit status {rc}: {command_line(cmd)}\n" + "".join(tail))
    return time.perf_counter() - start


def save_command(cmd: list[str], path: Path, cwd_note: str = "run from the repository root") -> None:
    """Write the exact command as a shell script next to what it produced."""
    env = "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 "
    path.write_text(f"#!/bin/sh\n# {cwd_note}, in the project's venv\n{env}{command_line(cmd)}\n",
                    encoding="utf-8")


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


def train_command(data: Path, save_dir: Path, seed: int, cfg: dict) -> list[str]:
    """fairseq-train on the data-bin `data`, keeping only the best checkpoint by validation loss (cfg: train)."""
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


def generate_command(data: Path, checkpoint: Path, cfg: dict, device: str) -> list[str]:
    """fairseq-generate: the binarized test set in `data` translated with beam search (cfg: evaluate)."""
    return ["fairseq-generate", str(data), "--path", str(checkpoint), "--task", "translation",
            "--source-lang", SRC, "--target-lang", TGT, "--gen-subset", "test",
            *fairseq_flags(cfg["fairseq_args"]),
            # fairseq's own sentencepiece post-processing: pieces joined, '▁' back to spaces.
            "--remove-bpe", "sentencepiece", "--required-batch-size-multiple", "1", "--num-workers", "0",
            *(["--cpu"] if device == "cpu" else [])]


def translate_command(data: Path, checkpoint: Path, source: Path, decoding: dict, device: str) -> list[str]:
    """fairseq-interactive: the encoded sentences of `source`, one per line, translated in batches."""
    return ["fairseq-interactive", str(data), "--path", str(checkpoint), "--task", "translation",
            "--source-lang", SRC, "--target-lang", TGT, "--input", str(source),
            *fairseq_flags(decoding),
            "--remove-bpe", "sentencepiece", "--required-batch-size-multiple", "1", "--num-workers", "0",
            *(["--cpu"] if device == "cpu" else [])]


# fairseq-generate and fairseq-interactive: H-<id> <score: mean log2-probability per token> <hypothesis, pieces joined>
_HYPOTHESIS = re.compile(r"^H-(\d+)\t(\S+)\t(.*)$")


def read_hypotheses(log: Path, expected: int) -> list[tuple[str, float]]:
    """(hypothesis, score) of sentences 0 .. expected-1, in input order (fairseq prints them in batch order); the
    score is fairseq's mean log2-probability per token, end of sentence included. A sentence missing raises."""
    by_id: dict[int, tuple[str, float]] = {}
    for line in log.read_text(encoding="utf-8").splitlines():
        m = _HYPOTHESIS.match(line)
        if m:
            by_id[int(m.group(1))] = (m.group(3), float(m.group(2)))
    if sorted(by_id) != list(range(expected)):
        missing = sorted(set(range(expected)) - set(by_id))[:10]
        raise RuntimeError(f"{log}: {len(by_id)} hypotheses for {expected} sentences (missing {missing}...)")
    return [by_id[i] for i in range(expected)]
