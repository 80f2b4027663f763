"""Stage `teacher@{teacher}`: a fairseq generator (the study's low- and high-performance teachers). A transformer
is trained on real pairs that no student ever sees (the prepared pool's lines after the student pool, the
first generate.pool_size), then translates the student pool and the test set with batched beam search
(fairseq-interactive). Its outputs are those of `generate@`: items, the condition, the E2 metrics; each item
also carries the teacher's mean token log-probability (natural log, end of sentence included), a
reference-free confidence score.

Writes models/teachers/<t>/ (data-bin, checkpoint, train.sh and train.json, translate-<split>.sh) and, like
generate@, data/generated/<t>/, data/conditions/<t>/ and results/generators/<t>.json; fairseq's logs go to
logs/fairseq/models/teachers/<t>/ and the times to logs/times/teacher@<t>.json (neither is an output).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from regurgitative import timing
from regurgitative.generators import generated
from regurgitative.params import load_params, param
from regurgitative.paths import MODELS_DIR, PREPARED_DIR, SRC, fresh_dir
from regurgitative.students import fairseq, vocabulary

TEACHERS_DIR = MODELS_DIR / "teachers"


def teacher_config(params: dict, name: str) -> dict:
    cfg = param(params, f"generators.{name}")
    if cfg.get("kind") != "fairseq":
        raise ValueError(f"params.yaml: grid.teachers names {name!r}, whose generators.{name}.kind is "
                         f"{cfg.get('kind')!r}, not fairseq (LLM generators belong in grid.generators)")
    param(params, f"generators.{name}.train_pairs")
    return cfg


def training_lines(params: dict, cfg: dict, name: str) -> tuple[int, int]:
    """(start, count) of the teacher's real training pairs in the prepared pool: right after the student pool,
    so that no student's training set overlaps a teacher's, and before the detector split (the pool's last
    generate.detector_size pairs), so that the detector learns from pairs no teacher has seen."""
    start, count = generated.pool_size(params), int(cfg["train_pairs"])
    detector_start, detector_size = generated.detector_lines(params)
    if start + count > detector_start:
        raise ValueError(f"params.yaml: generators.{name}.train_pairs is {count}, but the prepared pool has "
                         f"{detector_start + detector_size} pairs: the first {start} are the students' pool "
                         f"(generate.pool_size) and the last {detector_size} the detector split "
                         f"(generate.detector_size); lower one of them")
    return start, count


def read_translations(log: Path, expected: int) -> list[dict]:
    """Answers in input order, in the shape generated.item() takes, with the mean token log-probability (natural
    log; fairseq prints log2) as the teacher's confidence."""
    return [{"text": text, "finish_reason": "stop", "prompt_tokens": None, "completion_tokens": None,
             "mean_logprob": round(score * math.log(2), 4)} for text, score in fairseq.read_hypotheses(log, expected)]


def teach(name: str) -> dict:
    params = load_params()
    cfg = teacher_config(params, name)
    start, count = training_lines(params, cfg, name)
    train_cfg = dict(param(params, "train"))
    train_cfg["fairseq_args"] = {**train_cfg["fairseq_args"], **(cfg.get("fairseq_args") or {})}
    threads = train_cfg.get("threads")
    out = fresh_dir(TEACHERS_DIR / name)

    t0 = time.perf_counter()
    data = vocabulary.binarize(PREPARED_DIR / "pool", out / "data-bin", start=start, count=count)
    model = out / "model"
    model.mkdir()
    train_summary, train_times = fairseq.train(data, model, int(cfg.get("seed", 1)), train_cfg, script=out / "train.sh")

    sentences = generated.sentences_to_translate(params, name)
    generated.fresh_dirs(name)
    sp = vocabulary.load()
    t1 = time.perf_counter()
    items = []
    for split, des in sentences.items():
        source = out / f"{split}.{SRC}.pieces"
        source.write_text("".join(" ".join(p) + "\n" for p in sp.encode(des, out_type=str)), encoding="utf-8")
        cmd = fairseq.translate_command(data, model / "checkpoint_best.pt", source, dict(cfg.get("decoding") or {}),
                                        fairseq.resolve_device(train_cfg["device"]))
        fairseq.save_command(cmd, out / f"translate-{split}.sh")
        log = fairseq.log_path(out / f"translate-{split}.log")
        fairseq.run(cmd, log=log, threads=threads)
        answers = read_translations(log, len(des))
        items += [generated.item(split, i, de, a, {}) for i, (de, a) in enumerate(zip(des, answers))]
    translate_seconds = time.perf_counter() - t1

    described = {**cfg, "model": f"fairseq transformer, {count} real pairs", "api": "beam search"}
    metrics = generated.write_outputs(name, described, items, param(params, "generate.flagged"), {
        "train_pairs": count, "train_lines": [start, start + count],
        "teacher_best_valid_loss": train_summary["best_valid_loss"], "teacher_epochs": train_summary["epochs"]})
    timing.record(f"teacher@{name}", **train_times, translate_seconds=round(translate_seconds, 1),
                  sentences_per_second=round(len(items) / translate_seconds, 3),
                  wall_seconds=round(time.perf_counter() - t0, 1))
    return metrics


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teacher", required=True, help="a name under `generators` (kind fairseq) in params.yaml")
    a = ap.parse_args()
    try:
        print(json.dumps(teach(a.teacher), indent=2))
    except (KeyError, ValueError) as e:
        sys.exit(f"teacher@{a.teacher}: {e}")


if __name__ == "__main__":
    main()
