"""Benchmark: how well and how fast a from-scratch student learns from little real data (issue 12).
Measures and prints; asserts nothing. Tuning reads the VALIDATION set only: every score here is BLEU of the
student's beam-search output on the prepared valid split, never on test.

    python benchmarks/bench_student.py --settings current lowres64 lowres128 --sizes 1000 2000 4000
    python benchmarks/bench_student.py --corpus files --de /tmp/ding/ding.de --en /tmp/ding/ding.en --vocab 2000

Each (corpus, vocabulary) gets a workspace under --work with its own params.yaml (the default profile, the
corpus and vocabulary overridden) in which the pipeline's own stage modules run: prepare, tokenizer,
dataset@real-N, train@real-N-seed. A setting is an overlay on the default's train.fairseq_args (SETTINGS
below). For every run it prints and appends to --out: valid BLEU and chrF, the stage's wall time, fairseq's
own training time (sum of its per-epoch train_wall) and its whole loop ("done training in": training,
validation, checkpoints), the stage's time over that loop (start-up and the rest), the best epoch, and BLEU per
CPU-minute (wall time x threads). Runs are meant to be alone on the machine: timings of runs side by side say
what they share.

    python benchmarks/bench_student.py --max-words 15 --settings current --sizes 2000 1000

--max-words keeps only sentences of at most that many words (clean.max_words; the default keeps up to 80), so its
valid set is of short sentences too and its BLEU is not comparable with the other rows. Measured in stop 24 on a
slower 2-core machine (no AMX) than the other rows: 15,621 pairs survive; the 64-dim student got 8.2 valid BLEU
at 2,000 pairs (142 s) and 1.7 at 1,000 (73 s), so short sentences do not make the student learn from fewer pairs.

Another corpus (issue 12's corpus lever), measured in stop 25 on the same slower machine: every usage example of
the Ding dictionary (Debian trans-de-en 1.9-6; tests/data/ding/extract.py with n 100000 keeps all 16,887 pairs,
8.3 words a sentence), split by prepare as a user's own corpus:

    python benchmarks/bench_student.py --corpus files --de all.de --en all.en --vocab 4000 --sizes 1000 2000 4000

The 64-dim student got 0.3, 0.4 and 0.7 valid BLEU at 1,000, 2,000 and 4,000 pairs (54, 85 and 190 s): each
example illustrates a different headword, so little vocabulary repeats and the student learns far less than on
the help texts, whose boilerplate recurs. Short everyday sentences are not enough; Ding is no lever.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
from regurgitative import profile
from regurgitative.paths import model_dir, run_name

sys.path.insert(0, str(REPO / "benchmarks"))
from bench_pipeline import sh as run

# Overlays on profiles/default.yaml's train.fairseq_args. `current` is the default as committed before issue 12.
LOWRES = {"dropout": 0.3, "attention-dropout": 0.1, "activation-dropout": 0.3, "label-smoothing": 0.2}
SETTINGS: dict[str, dict] = {
    "current": {},
    # Sennrich & Zhang (2019), Araabi & Monz (2020): strong dropout incl. activation dropout, stronger label
    # smoothing, an update budget whose warm-up is short next to it, early stopping on validation loss.
    "lowres64": {**LOWRES, "max-epoch": 60, "patience": 8},
    "lowres64-e40": {**LOWRES, "max-epoch": 40, "patience": 8},
    "w128": {"encoder-embed-dim": 128, "decoder-embed-dim": 128, "encoder-ffn-embed-dim": 512,
             "decoder-ffn-embed-dim": 512, "lr": 0.002, "warmup-updates": 400},
    "lowres128-e40": {**LOWRES, "encoder-embed-dim": 128, "decoder-embed-dim": 128, "encoder-ffn-embed-dim": 512,
                      "decoder-ffn-embed-dim": 512, "lr": 0.002, "warmup-updates": 400, "max-epoch": 40, "patience": 8},
    # stop 27: 20 epochs are not enough for the 128-dim student (7.6 valid BLEU, 25.7 chrF at 2,000 pairs, best
    # epoch 20 of 20, measured with other jobs on the cores: its times are not comparable)
    "lowres128-e20": {**LOWRES, "encoder-embed-dim": 128, "decoder-embed-dim": 128, "encoder-ffn-embed-dim": 512,
                      "decoder-ffn-embed-dim": 512, "lr": 0.002, "warmup-updates": 400, "max-epoch": 20, "patience": 8},
    "lowres128": {**LOWRES, "encoder-embed-dim": 128, "decoder-embed-dim": 128, "encoder-ffn-embed-dim": 512,
                  "decoder-ffn-embed-dim": 512, "lr": 0.002, "warmup-updates": 400, "max-epoch": 60, "patience": 8},
    "lowres128-ffn256": {**LOWRES, "encoder-embed-dim": 128, "decoder-embed-dim": 128, "encoder-ffn-embed-dim": 256,
                         "decoder-ffn-embed-dim": 256, "encoder-attention-heads": 2, "decoder-attention-heads": 2,
                         "lr": 0.002, "warmup-updates": 400, "max-epoch": 60, "patience": 8},
    # bigger batches: fewer, cheaper updates per epoch (fairseq's per-batch overhead is large for a 64-dim model)
    "current-mt4096": {"max-tokens": 4096, "lr": 0.006, "warmup-updates": 100, "max-epoch": 30, "patience": 5},
    "lowres64-mt4096": {**LOWRES, "max-tokens": 4096, "lr": 0.006, "warmup-updates": 100, "max-epoch": 60,
                        "patience": 8},
    "lowres128-ld": {**LOWRES, "encoder-embed-dim": 128, "decoder-embed-dim": 128, "encoder-ffn-embed-dim": 512,
                     "decoder-ffn-embed-dim": 512, "encoder-layers": 3, "decoder-layers": 3,
                     "decoder-layerdrop": 0.2, "lr": 0.002, "warmup-updates": 400, "max-epoch": 60, "patience": 8},
}
FIELDS = ["corpus", "vocab", "setting", "threads", "train_size", "seed", "valid_bleu", "valid_chrf", "best_epoch",
          "epochs", "updates", "best_valid_loss", "stage_seconds", "fairseq_train_seconds", "fairseq_loop_seconds", "overhead_seconds",
          "stage_over_loop",
          "generate_seconds", "cpu_minutes", "bleu_per_cpu_minute"]


def workspace(args: argparse.Namespace) -> Path:
    """prepare + tokenizer + dataset@real-N for every size, in a directory of its own."""
    name = f"{args.corpus}-{Path(args.de).stem if args.de else 'embedded'}-v{args.vocab}"
    if args.max_words is not None:
        name += f"-w{args.max_words}"
    ws = args.work / name
    params = profile.render("default", REPO / "profiles")
    params["tokenizer"]["vocab_size"] = args.vocab
    if args.max_words is not None:
        params["clean"]["max_words"] = args.max_words
    if args.corpus == "files":
        corpus_dir = Path(args.de).resolve().parent
        params["corpus"].update(source="files")
        params["corpus"]["files"].update(dir=str(corpus_dir), de=Path(args.de).name, en=Path(args.en).name)
    ws.mkdir(parents=True, exist_ok=True)
    if not (ws / "data/corpus").exists():
        (ws / "data").mkdir(exist_ok=True)
        (ws / "data/corpus").symlink_to(REPO / "data/corpus")
    (ws / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    py = sys.executable
    if not (ws / "data/tokenizer/stats.json").exists():
        run([py, "-m", "regurgitative.data.prepare"], ws)
        run([py, "-m", "regurgitative.students.tokenizer"], ws)
    for size in args.sizes:
        if not (ws / f"data/datasets/real/{size}/stats.json").exists():
            run([py, "-m", "regurgitative.students.dataset", "--condition", "real", "--train-size", str(size)], ws)
    return ws


def one_run(ws: Path, args: argparse.Namespace, setting: str, size: int, seed: int) -> dict:
    params = yaml.safe_load((ws / "params.yaml").read_text())
    base = profile.render("default", REPO / "profiles")["train"]["fairseq_args"]
    params["train"]["fairseq_args"] = {**base, **SETTINGS[setting]}
    params["train"]["threads"] = args.threads
    (ws / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    py = sys.executable
    stage = run([py, "-m", "regurgitative.students.train", "--condition", "real", "--train-size", str(size),
                 "--seed", str(seed)], ws)
    model = ws / model_dir("real", size, seed)
    summary = json.loads((model / "train.json").read_text())
    # Times are no outputs: the train stage records them in logs/times/ (regurgitative.timing)
    times = json.loads((ws / "logs/times" / f"train@{run_name('real', size, seed)}.json").read_text())
    fairseq_seconds = times.get("fairseq_loop_seconds") or float("nan")   # fairseq's loop: train, validate, save
    # Score on valid with the pipeline's own generate command and sacreBLEU.
    code = (f"import sys, json; sys.path.insert(0, {str(REPO / 'src')!r})\n"
            "from pathlib import Path\n"
            "from regurgitative import scoring\n"
            "from regurgitative.students import fairseq, vocabulary\n"
            "from regurgitative.params import load_params, param\n"
            "from regurgitative.paths import PREPARED_DIR\n"
            "from regurgitative.text import read_lines\n"
            "p = load_params()\n"
            f"cmd = fairseq.generate_command(vocabulary.BIN, Path({str(model / 'checkpoint_best.pt')!r}), "
            "param(p, 'evaluate'), 'cpu')\n"
            "cmd[cmd.index('--gen-subset') + 1] = 'valid'   # tuning reads valid, never test\n"
            f"log = Path({str(model / 'valid.log')!r})\n"
            f"s = fairseq.run(cmd, log=log, threads={args.threads})\n"
            "refs = PREPARED_DIR / 'valid.en'\n"
            "hyps = [h for h, _ in fairseq.read_hypotheses(log, expected=len(read_lines(refs)))]\n"
            "print(json.dumps({**scoring.score(hyps, read_lines(refs)), 'seconds': s}))\n")
    proc = subprocess.run([py, "-c", code], cwd=ws, text=True, capture_output=True)
    if proc.returncode:
        sys.exit(proc.stderr[-3000:])
    valid = json.loads(proc.stdout.strip().splitlines()[-1])
    cpu_minutes = stage * args.threads / 60
    row = {"corpus": ws.name, "vocab": args.vocab, "setting": setting, "threads": args.threads, "train_size": size,
           "seed": seed, "valid_bleu": valid["bleu"], "valid_chrf": valid["chrf"],
           "best_epoch": summary["best_epoch"], "epochs": summary["epochs"], "updates": summary["updates"],
           "best_valid_loss": summary["best_valid_loss"], "stage_seconds": round(stage, 1),
           "fairseq_train_seconds": times["fairseq_train_wall_seconds"], "fairseq_loop_seconds": fairseq_seconds,
           "overhead_seconds": round(stage - times["fairseq_train_wall_seconds"], 1),
           "stage_over_loop": round(stage / fairseq_seconds, 3),
           "generate_seconds": round(valid["seconds"], 1), "cpu_minutes": round(cpu_minutes, 2),
           "bleu_per_cpu_minute": round(valid["bleu"] / cpu_minutes, 3)}
    shutil.rmtree(model)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="libreoffice", choices=["libreoffice", "files"])
    ap.add_argument("--de", help="with --corpus files: a German file, one sentence a line")
    ap.add_argument("--en", help="with --corpus files: the aligned English file")
    ap.add_argument("--vocab", type=int, default=4000)
    ap.add_argument("--max-words", type=int, help="clean.max_words (the default profile's otherwise): shorter sentences")
    ap.add_argument("--settings", nargs="+", default=["current", "lowres64", "lowres128"], choices=list(SETTINGS))
    ap.add_argument("--sizes", nargs="+", type=int, default=[1000, 2000, 4000])
    ap.add_argument("--seeds", nargs="+", type=int, default=[1])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench-student"))
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks/results/student.csv")
    args = ap.parse_args()
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    ws = workspace(args)
    new = not args.out.exists()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        for size in args.sizes:
            for setting in args.settings:
                for seed in args.seeds:
                    row = one_run(ws, args, setting, size, seed)
                    writer.writerow(row)
                    f.flush()
                    print(" ".join(f"{k}={row[k]}" for k in FIELDS), flush=True)


if __name__ == "__main__":
    main()
