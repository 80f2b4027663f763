"""Stages `recursion-start@{regime}-{seed}` and `recursion@{regime}-{seed}-{link}` (E9): recursive regurgitation,
generation after generation, one stage per generation.

Generation 0 is E1's student of condition `recursion.start` (real by default) at `recursion.size` pairs and the
same seed: it is not trained again. Generation k >= 1 is a student of the same architecture and recipe
(`train`), trained on German sentences with generation k-1's translations as their English, then

- scored like every student (fairseq-generate on the human test set, sacreBLEU), and
- made to translate the German that generation k+1 will train on, with the same beam search (fairseq-interactive).

Design: a fresh slice of German per generation. The prepared pool's lines from `recursion.pool_start` are cut
into slices of `recursion.size`; generation k >= 1 trains on slice k, which generation k-1 translated without
ever having trained on it (generation 0 trained on the first `size` lines of the pool; pool_start must lie after
them). A student translating German it trained on recites its training English and would hide collapse; two
halves taken in turn would repeat German across generations, which `accumulate` would then hold twice with
different English. Fresh slices cost data, of which the pool has plenty (the default's 25,601 pairs hold its
slices after the students' pool and the teachers' pairs, so E9's German overlaps no other experiment's).

A regime (`recursion.regimes.<name>`) says what generation k trains on:
- accumulate: false, real_share: 0 (`replace`): slice k with generation k-1's English only;
- accumulate: true (`accumulate`): everything generation k-1 trained on plus slice k with its English: the
  real data of generation 0 and every generation's output, growing by `size` per generation;
- real_share: s (`keep-real`, s = 0.1): a fixed share s of slice k's lines (drawn with the seed) keep their human
  English, the rest get generation k-1's.

Each generation's directory data/recursion/<regime>/seed<s>/g<k>/ holds its training pairs (train.de, train.en,
train.line: the prepared pool's line of each pair, train.origin: `real` or the generation that wrote the English),
its model (model/), its test translations (test.en) and its translation of the next slice (next.de, next.en,
next.line). Metrics go to results/recursion/<regime>-<seed>-g<k>.json; fairseq's logs to logs/fairseq/ and the
times to logs/times/ (neither is an output). The measurements of the chain (E3's and E4's
on each generation's training English, the vocabulary tail, lengths, the statistics) are the `collapse` stage's.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from regurgitative import scoring, timing
from regurgitative.params import load_params, param
from regurgitative.paths import PREPARED_DIR, SRC, TGT, condition_pool, eval_dir, fresh_dir, model_dir, run_metrics
from regurgitative.recursion.chain import link_dir, link_metrics, regime_config
from regurgitative.students import fairseq, vocabulary
from regurgitative.text import read_lines, write_lines


def slice_lines(params: dict, generation: int, pool_lines: int) -> tuple[int, int]:
    """(start, count) in the prepared pool of the German that generation `generation` (>= 1) trains on."""
    size, start = int(param(params, "recursion.size")), int(param(params, "recursion.pool_start"))
    if start < size:
        raise ValueError(f"params.yaml: recursion.pool_start is {start}, inside the first recursion.size = {size} "
                         f"lines, which generation 0 trained on; each generation must translate German it never saw")
    first = start + (generation - 1) * size
    if first + size > pool_lines:
        raise ValueError(f"params.yaml: generation {generation} of the chain trains on pool lines {first}.."
                         f"{first + size}, but the prepared pool has {pool_lines}: lower recursion.size or "
                         f"recursion.pool_start, shorten recursion.links, or use a larger corpus")
    return first, size


def translate(checkpoint: Path, german: list[str], out: Path, params: dict, threads: int | None) -> list[str]:
    """Beam search with recursion.decoding (fairseq-interactive flags), the teachers' setting by default: a
    student that loops stops at 1.5 x the source length + 10 pieces, as an LLM generator stops at max_tokens."""
    decoding = dict(param(params, "recursion.decoding"))
    source = out / f"next.{SRC}.pieces"
    sp = vocabulary.load()
    source.write_text("".join(" ".join(p) + "\n" for p in sp.encode(german, out_type=str)), encoding="utf-8")
    cmd = fairseq.translate_command(vocabulary.BIN, checkpoint, source, decoding,
                                    fairseq.resolve_device(param(params, "train.device")))
    fairseq.save_command(cmd, out / "translate.sh")
    log = fairseq.log_path(out / "translate.log")
    fairseq.run(cmd, log=log, threads=threads)
    source.unlink()
    return [text for text, _ in fairseq.read_hypotheses(log, len(german))]


def write_next(out: Path, params: dict, generation: int, checkpoint: Path, threads: int | None) -> float:
    """Translate slice generation+1 (what the next generation trains on); returns the seconds it took."""
    pool_de = read_lines(PREPARED_DIR / f"pool.{SRC}")
    start, count = slice_lines(params, generation + 1, len(pool_de))
    german = pool_de[start:start + count]
    t0 = time.perf_counter()
    english = translate(checkpoint, german, out, params, threads)
    write_lines(out / f"next.{SRC}", german)
    write_lines(out / f"next.{TGT}", english)
    write_lines(out / "next.line", range(start, start + count))
    return time.perf_counter() - t0


def start(regime: str, seed: int) -> dict:
    """Generation 0: E1's student of recursion.start at recursion.size, seed `seed`; its training pairs, test
    translations and metrics are copied, and it translates slice 1."""
    params = load_params()
    regime_config(params, regime)
    condition, size = str(param(params, "recursion.start")), int(param(params, "recursion.size"))
    threads = param(params, "train.threads")
    out = fresh_dir(link_dir(regime, seed, 0))
    student = model_dir(condition, size, seed)
    if not (student / "checkpoint_best.pt").exists():
        raise FileNotFoundError(f"{student}/checkpoint_best.pt: generation 0 is E1's student {condition} at "
                                f"{size} pairs, seed {seed}; recursion.start and recursion.size must name a run of "
                                f"the grid (one of grid.conditions at one of grid.train_sizes)")
    pool = condition_pool(condition)
    german = read_lines(pool.with_suffix(f".{SRC}"))[:size]
    english = read_lines(pool.with_suffix(f".{TGT}"))[:size]
    line_of = {de: i for i, de in enumerate(read_lines(PREPARED_DIR / f"pool.{SRC}"))}
    missing = [de for de in german if de not in line_of]
    if missing:
        raise ValueError(f"{pool}.{SRC}: {len(missing)} German sentences are not in {PREPARED_DIR}/pool.{SRC} "
                         f"(first: {missing[0]!r}); recursion.start must be real or a generator of the grid")
    write_lines(out / f"train.{SRC}", german)
    write_lines(out / f"train.{TGT}", english)
    write_lines(out / "train.line", [line_of[de] for de in german])
    write_lines(out / "train.origin", ["real" if condition == "real" else condition] * size)
    shutil.copy2(eval_dir(condition, size, seed) / f"hypotheses.{TGT}", out / f"test.{TGT}")
    run = json.loads(run_metrics(condition, size, seed).read_text())
    translate_seconds = write_next(out, params, 0, student / "checkpoint_best.pt", threads)
    metrics = {"regime": regime, "seed": seed, "generation": 0, "start": condition, "train_pairs": size,
               "real_pairs": size if condition == "real" else 0,
               **{k: run[k] for k in ("bleu", "chrf", "bleu_signature", "best_epoch", "updates")}}
    timing.record(f"recursion-start@{regime}-{seed}", translate_seconds=round(translate_seconds, 1))
    return write_metrics(metrics)


def training_pairs(params: dict, regime: str, seed: int, generation: int) -> dict[str, list]:
    """What generation k trains on under the regime (see the module's docstring)."""
    cfg = regime_config(params, regime)
    prev = link_dir(regime, seed, generation - 1)
    if not (prev / f"next.{TGT}").exists():
        raise FileNotFoundError(f"{prev}/next.{TGT}: generation {generation - 1}'s translations are missing; run "
                                f"its stage first (dvc repro)")
    pool_de = read_lines(PREPARED_DIR / f"pool.{SRC}")
    pool_en = read_lines(PREPARED_DIR / f"pool.{TGT}")
    first, count = slice_lines(params, generation, len(pool_de))
    german = read_lines(prev / f"next.{SRC}")
    english = read_lines(prev / f"next.{TGT}")
    if german != pool_de[first:first + count] or len(english) != count:
        raise ValueError(f"{prev}/next.{SRC}: generation {generation - 1} translated other German than the "
                         f"{count} pool lines from {first} that generation {generation} trains on (recursion.size "
                         f"or recursion.pool_start changed since?); run `dvc repro` to redo the chain from there")
    origin = [f"g{generation - 1}"] * count
    keep = round(cfg["real_share"] * count)
    if keep:
        rng = np.random.default_rng([seed, generation])
        for i in rng.choice(count, size=keep, replace=False):
            english[i], origin[i] = pool_en[first + i], "real"
    new = {SRC: german, TGT: english, "line": list(range(first, first + count)), "origin": origin}
    if not cfg["accumulate"]:
        return new
    before = {SRC: read_lines(prev / f"train.{SRC}"), TGT: read_lines(prev / f"train.{TGT}"),
              "line": [int(x) for x in read_lines(prev / "train.line")],
              "origin": read_lines(prev / "train.origin")}
    return {k: before[k] + new[k] for k in new}


def link(regime: str, seed: int, generation: int) -> dict:
    """Generation k >= 1: build its training pairs, train, score on the test set, translate the next slice."""
    if generation < 1:
        raise ValueError("generation 0 is the `recursion-start` stage (--generation 0 runs it)")
    params = load_params()
    train_cfg = param(params, "train")
    threads = train_cfg.get("threads")
    out = fresh_dir(link_dir(regime, seed, generation))
    pairs = training_pairs(params, regime, seed, generation)
    for key, lines in pairs.items():
        write_lines(out / f"train.{key}", lines)

    t0 = time.perf_counter()
    data = vocabulary.binarize(out / "train", out / "data-bin", start=0, count=len(pairs[SRC]))
    model = out / "model"
    model.mkdir()
    summary, train_times = fairseq.train(data, model, seed, train_cfg, script=model / "train.sh")
    train_seconds = time.perf_counter() - t0

    checkpoint = model / "checkpoint_best.pt"
    cmd = fairseq.generate_command(vocabulary.BIN, checkpoint, param(params, "evaluate"),
                                   fairseq.resolve_device(train_cfg["device"]))
    fairseq.save_command(cmd, out / "generate.sh")
    log = fairseq.log_path(out / "generate.log")
    generate_seconds = fairseq.run(cmd, log=log, threads=threads)
    references = PREPARED_DIR / f"test.{TGT}"
    hypotheses = [text for text, _ in fairseq.read_hypotheses(log, expected=len(read_lines(references)))]
    write_lines(out / f"test.{TGT}", hypotheses)
    scores = scoring.score_files(out / f"test.{TGT}", references)
    translate_seconds = write_next(out, params, generation, checkpoint, threads)
    metrics = {"regime": regime, "seed": seed, "generation": generation, "train_pairs": len(pairs[SRC]),
               "real_pairs": pairs["origin"].count("real"),
               **{k: scores[k] for k in ("bleu", "chrf", "bleu_signature")},
               "best_epoch": summary["best_epoch"], "updates": summary["updates"]}
    timing.record(f"recursion@{regime}-{seed}-g{generation}", **train_times,
                  binarize_and_train_seconds=round(train_seconds, 1), generate_seconds=round(generate_seconds, 1),
                  translate_seconds=round(translate_seconds, 1))
    return write_metrics(metrics)


def write_metrics(metrics: dict) -> dict:
    path = link_metrics(metrics["regime"], metrics["seed"], metrics["generation"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--regime", required=True, help="a name under recursion.regimes in params.yaml")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--generation", type=int, required=True, help="0: the start (E1's student); k >= 1: a link")
    a = ap.parse_args()
    try:
        result = start(a.regime, a.seed) if a.generation == 0 else link(a.regime, a.seed, a.generation)
    except (KeyError, ValueError, FileNotFoundError) as e:
        sys.exit(f"recursion {a.regime} seed {a.seed} generation {a.generation}: {e}")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
