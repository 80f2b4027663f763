"""fairseq's command-line tools, for every model the study trains (students, teachers, E9's generations): the
commands (fairseq-train, fairseq-generate, fairseq-interactive), run visibly (every command printed and saved as a
script a reader could type again), the one trainer (`train`: the command, its time-free summary, the best
checkpoint cut down to what translation needs) and the one reader of what they print (epoch summaries,
hypotheses).

What fairseq prints goes to logs/fairseq/ (`log_path`), never into a stage's output: every line is stamped with
the time and every epoch with its wall time and speed, which would make an output differ on every run. A stage's
output holds only what a rerun reproduces byte for byte; its times go to logs/times/ (regurgitative.timing)."""
from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

from regurgitative.paths import LOGS_DIR, SRC, TGT

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


FAIRSEQ_LOGS = LOGS_DIR / "fairseq"


def log_path(path: Path) -> Path:
    """Where the output of a fairseq command that belongs next to `path` goes: the same path below logs/fairseq/
    (git-ignored, no stage's output), e.g. models/real/1000/seed1/train.log -> logs/fairseq/models/real/1000/
    seed1/train.log. An absolute path is taken relative to the working directory (the repository root)."""
    path = Path(path)
    if path.is_absolute():
        try:
            path = path.relative_to(Path.cwd())
        except ValueError:
            path = path.relative_to(path.anchor)
    return FAIRSEQ_LOGS / path


def run(cmd: list[str], *, log: Path | None = None, threads: int | None = None) -> float:
    """Run a fairseq command; stream its output to stderr (and to `log`, a file under logs/: see `log_path`);
    return the wall time in seconds. A failure raises with the command line and the tail of the output."""
    print(f"+ {command_line(cmd)}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    tail: list[str] = []
    if log:
        log.parent.mkdir(parents=True, exist_ok=True)
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
_DONE = re.compile(r"done training in ([0-9.]+) seconds")


def _epoch_records(log: Path) -> tuple[list[dict], list[dict]]:
    """fairseq's json log: (per-epoch training records, per-epoch validation records)."""
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
    return train, valid


def summarize_log(log: Path) -> dict:
    """Epoch summaries from fairseq's json log, with no time in them (what a rerun reproduces): the best
    validation loss and when, the validation loss of every epoch, updates. Times: `training_times`."""
    _, valid = _epoch_records(log)
    best = min(valid, key=lambda r: float(r["valid_loss"]))
    return {"epochs": len(valid), "best_epoch": int(best["epoch"]), "best_valid_loss": float(best["valid_loss"]),
            "best_valid_ppl": float(best.get("valid_ppl", "nan")), "updates": int(float(valid[-1]["valid_num_updates"])),
            "valid_losses": [float(r["valid_loss"]) for r in valid]}


def training_times(log: Path) -> dict:
    """The times in fairseq's json log: training wall time (the sum of each epoch's train_wall), target words
    per second of it, and fairseq's whole loop (its "done training in": training, validation, checkpoints)."""
    train, _ = _epoch_records(log)
    train_wall = sum(float(r.get("train_train_wall", 0)) for r in train)
    words = sum(float(r.get("train_wps", 0)) * float(r.get("train_train_wall", 0)) for r in train)
    done = _DONE.search(log.read_text(encoding="utf-8"))
    return {"fairseq_train_wall_seconds": round(train_wall, 1),
            "target_words_per_second": round(words / train_wall, 1) if train_wall else None,
            "fairseq_loop_seconds": float(done.group(1)) if done else None}


# What translation (fairseq-generate, fairseq-interactive) reads from a checkpoint: the weights, the cfg that
# builds the model, and what checkpoint_utils._upgrade_state_dict indexes (optimizer_history, extra_state).
_KEPT = ("args", "cfg", "model", "criterion", "optimizer_history", "task_state")
_KEPT_EXTRA = ("val_loss", "best")


def _canonical(obj):
    """A copy of a checkpoint's plain structure whose pickle depends on its values only: every string interned
    (equal strings are one object, which pickle writes once and then refers to), every dict, list, tuple and
    argparse Namespace a fresh object (none shared). fairseq's own pickle shares equal strings or not from one
    run to the next (its memo follows object identity), so two identical runs wrote different bytes. Tensors
    are kept as they are (torch saves each storage once, by identity)."""
    import argparse
    if isinstance(obj, str):
        return sys.intern(obj)
    if isinstance(obj, dict):
        copy = type(obj)((_canonical(k), _canonical(v)) for k, v in obj.items())
        for name, value in getattr(obj, "__dict__", {}).items():  # a state dict's _metadata (module versions)
            setattr(copy, name, _canonical(value))
        return copy
    if isinstance(obj, list):
        return [_canonical(v) for v in obj]
    if isinstance(obj, tuple) and type(obj) is tuple:
        return tuple(_canonical(v) for v in obj)
    if isinstance(obj, argparse.Namespace):
        return argparse.Namespace(**{_canonical(k): _canonical(v) for k, v in vars(obj).items()})
    return obj


def strip_checkpoint(path: Path) -> tuple[int, int]:
    """Cut a fairseq checkpoint down to what translation needs and re-save it byte for byte reproducibly; return
    its size in bytes (before, after). Gone: the optimizer's state (`last_optimizer_state`, if any) and what
    extra_state keeps for resuming, with wall times in it (`metrics`' meters, `previous_training_time`,
    `train_iterator`); a multi-GPU run's random rendezvous port is cleared from the cfg. Kept: the weights, the
    cfg, the optimizer's history (names, the scheduler's best loss, the update count) and the validation loss.
    Saved in a canonical form (`_canonical`) and through memory, so that neither the identity of equal objects
    nor the file's name (torch names the archive's folder after it) changes a byte."""
    import torch
    before = path.stat().st_size
    state = torch.load(path, map_location="cpu", weights_only=False)
    kept = {k: state[k] for k in _KEPT if k in state}
    kept["extra_state"] = {k: state["extra_state"][k] for k in _KEPT_EXTRA if k in (state.get("extra_state") or {})}
    cfg = kept.get("cfg")
    if isinstance(cfg, dict) and isinstance(cfg.get("distributed_training"), dict):
        cfg["distributed_training"].update(distributed_init_method=None, distributed_port=-1)
    buffer = io.BytesIO()
    torch.save(_canonical(kept), buffer)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, path)
    return before, path.stat().st_size


def train(data: Path, save_dir: Path, seed: int, cfg: dict, *, script: Path,
          about: dict | None = None) -> tuple[dict, dict]:
    """fairseq-train on the data-bin `data` into `save_dir` (train_command), for every model the study trains;
    returns (summary, times). The command is saved as `script` (train.sh); fairseq's output goes to logs/
    (log_path of the script's .log); the best checkpoint is cut down to what translation needs
    (strip_checkpoint); the time-free summary (summarize_log), `about` first, is written next to the script
    (train.json). The times (the command's wall time and fairseq's own) are for the stage to record in logs/times
    (regurgitative.timing), never in an output."""
    cmd = train_command(data, save_dir, seed, cfg)
    save_command(cmd, script)
    log = log_path(script.with_suffix(".log"))
    seconds = run(cmd, log=log, threads=cfg.get("threads"))
    before, after = strip_checkpoint(save_dir / "checkpoint_best.pt")
    print(f"{save_dir / 'checkpoint_best.pt'}: {before:,} bytes as fairseq saved it, {after:,} with what "
          f"translation needs", file=sys.stderr, flush=True)
    summary = {**(about or {}), **summarize_log(log)}
    script.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary, {"train_seconds": round(seconds, 1), **training_times(log)}


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
