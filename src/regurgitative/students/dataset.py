"""Stage `dataset@{condition}-{train_size}`: a condition's training set of size n is the first n pairs of its
ordered pool, encoded with the shared SentencePiece model and binarized with the shared dictionary, next to
the shared valid and test sets.

A condition's pool is a pair of line-aligned files data/conditions/<condition>/pool.{de,en}: for `real` the
prepared real pool (written by `prepare`), for a generator the same German sentences with its English
(written by `generate`); later conditions (mitigations) supply their own in an order of their choosing, so
that "size n" always means "the first n".
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from regurgitative.params import load_params
from regurgitative.paths import LANGS, condition_pool, dataset_dir
from regurgitative.students.vocabulary import binarize


def build(condition: str, train_size: int) -> Path:
    pool = condition_pool(condition)
    n_pool, n_en = (sum(1 for _ in pool.with_suffix(f".{lang}").open(encoding="utf-8")) for lang in LANGS)
    if n_pool != n_en:
        raise ValueError(f"{pool}.de has {n_pool} lines but {pool}.en has {n_en}: the condition's pool is not "
                         f"aligned; refusing to truncate")
    if train_size > n_pool:
        raise ValueError(f"train_size {train_size} exceeds the {n_pool} pairs of {pool}.de "
                         f"(condition {condition!r}); lower grid.train_sizes in params.yaml (or, for a generator, raise generate.pool_size)")
    out = binarize(pool, dataset_dir(condition, train_size), start=0, count=train_size)
    (out / "stats.json").write_text(json.dumps({"condition": condition, "train_size": train_size}) + "\n")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--condition", required=True)
    ap.add_argument("--train-size", type=int, required=True)
    args = ap.parse_args()
    load_params()  # reads no key; refuses a grid that names what does not exist (validation.check_grid)
    build(args.condition, args.train_size)


if __name__ == "__main__":
    main()
