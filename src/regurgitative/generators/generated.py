"""What every generator translates and what it writes: the layout shared by the stages generate@ (LLMs) and
teacher@ (fairseq teachers). The student pool, the test sentences and the detector split come from the prepared
corpus (`sentences_to_translate`); each translated sentence becomes an item (`item`); a generator's items, its
test-set translations, its regurgitative condition and its E2 metrics are written by `write_outputs`.
"""
from __future__ import annotations

import json
from pathlib import Path

from regurgitative import cleaning, scoring
from regurgitative.params import param
from regurgitative.paths import CONDITIONS_DIR, GENERATED_DIR, PREPARED_DIR, RESULTS_DIR, fresh_dir
from regurgitative.text import read_lines


def pool_size(params: dict, generator: str | None = None) -> int:
    """How much of the pool a generator translates (generate.pool_size): the largest training size a
    regurgitative condition can have. A fixed number rather than max(grid.train_sizes), so that adding a
    size below it asks nothing and reruns no generation (validation.check_grid refuses a size above it).
    `generators.<name>.pool_size` lowers it for one generator (the default's LLM translates only what E10
    fine-tunes on); without a generator, the students' pool: where the teachers' training pairs begin."""
    own = ((params.get("generators") or {}).get(generator) or {}).get("pool_size") if generator else None
    return int(param(params, "generate.pool_size") if own is None else own)


def common_pool_size(params: dict, generators: list[str]) -> int:
    """The first n pool sentences every one of `generators` translated: what E3, E4 and the agreement score
    compare them on, so that every generator is measured on the same German sentences."""
    return min([pool_size(params, g) for g in generators] or [pool_size(params)])


def generated_items(generator: str, split: str | None = None) -> list[dict]:
    """What generate@/teacher@ recorded for every sentence a generator translated (items.jsonl), in order, all
    splits or one (pool, test, detector): index, German, request, raw answer, cleaned text, flags, what cleaning
    stripped, mean log-probability."""
    path = GENERATED_DIR / generator / "items.jsonl"
    with path.open(encoding="utf-8") as f:
        items = [json.loads(line) for line in f]
    return [it for it in items if split is None or it["split"] == split]


def first_lines(path: Path, limit: int | None = None) -> list[str]:
    """The first `limit` lines of `path` (all if None); fewer than `limit` is an error that names the file."""
    lines = read_lines(path)
    if limit is not None and limit > len(lines):
        raise ValueError(f"{path}: {len(lines)} sentences, but generate.pool_size asks for {limit}")
    return lines[:limit]


def detector_lines(params: dict) -> tuple[int, int]:
    """(start, count) of the detector split in the prepared pool: its last generate.detector_size sentences, so
    that the human-vs-generated detector (E7) learns from sentences no student, no teacher and no test set has.
    It depends on the pool and generate.detector_size only; a teacher's stage refuses training pairs that reach
    into it (teacher.training_lines), so adding a teacher reruns no LLM's generation."""
    count = int(param(params, "generate.detector_size"))
    available = len(read_lines(PREPARED_DIR / "pool.de"))
    used = pool_size(params)
    if available - count < used:
        raise ValueError(f"params.yaml: generate.detector_size is {count}, but the prepared pool has {available} "
                         f"pairs and the first {used} are the students' pool (generate.pool_size); lower one of them")
    return available - count, count


def sentences_to_translate(params: dict, generator: str) -> dict[str, list[str]]:
    """What a generator translates: the first pool_size(params, generator) pool sentences (the student pool),
    the first generate.test_size test sentences (E2) and the detector split (E7, see detector_lines)."""
    test_size = param(params, "generate.test_size")
    start, count = detector_lines(params)
    return {"pool": first_lines(PREPARED_DIR / "pool.de", pool_size(params, generator)),
            "test": first_lines(PREPARED_DIR / "test.de", None if test_size is None else int(test_size)),
            "detector": read_lines(PREPARED_DIR / "pool.de")[start:start + count]}


def items_for(generator: str, split: str, german: list[str]) -> list[dict]:
    """The generator's items of a split, checked against the German they must translate (the prepared split as
    the current params cut it): the same sentences in the same order, or an error naming the first difference.
    A line count alone would let a generator's stale split (another detector_size, another corpus) through."""
    items = generated_items(generator, split)
    path = GENERATED_DIR / generator / "items.jsonl"
    if len(items) != len(german):
        raise ValueError(f"{path}: {len(items)} {split} sentences, but the prepared corpus and params.yaml give "
                         f"{len(german)}; rerun the generator's stage (dvc repro)")
    for i, (it, de) in enumerate(zip(items, german)):
        if it["de"] != de:
            raise ValueError(f"{path}: {split} sentence {i} is {it['de']!r}, but the prepared corpus has {de!r} "
                             f"there; rerun the generator's stage (dvc repro)")
    return items


def kept_pairs(items: list[dict], policy: str) -> tuple[list[tuple[str, str]], list[dict]]:
    """The condition's (German, English) pairs in pool order, and the items left out (policy `drop`)."""
    if policy not in ("keep", "drop"):
        raise ValueError(f"params.yaml: generate.flagged must be keep or drop, not {policy!r}")
    kept, left_out = [], []
    for it in items:
        if policy == "drop" and it["flags"]:
            left_out.append({"index": it["index"], "de": it["de"], "flags": it["flags"]})
        else:
            kept.append((it["de"], it["text"]))
    return kept, left_out


def fresh_dirs(name: str) -> Path:
    """Empty data/generated/<g>/ and data/conditions/<g>/; returns the former."""
    fresh_dir(CONDITIONS_DIR / name)
    return fresh_dir(GENERATED_DIR / name)


def item(split: str, index: int, de: str, answer: dict, request: dict) -> dict:
    """One generated sentence as items.jsonl records it: the request (prompt or messages, or a teacher's
    command), the raw answer, the cleaned translation and its flags."""
    c = cleaning.clean(answer["text"], de, answer["finish_reason"])
    return {"split": split, "index": index, "de": de, **request, "raw": answer["text"], "text": c.text,
            "flags": c.flags, "stripped": c.stripped, "finish_reason": answer["finish_reason"],
            "prompt_tokens": answer["prompt_tokens"], "completion_tokens": answer["completion_tokens"],
            "mean_logprob": answer["mean_logprob"]}


def write_outputs(name: str, cfg: dict, items: list[dict], flagged: str, usage: dict) -> dict:
    """Write a generator's items, its test-set translations, its condition and its E2 metrics; return
    the metrics."""
    out, condition = GENERATED_DIR / name, CONDITIONS_DIR / name
    with (out / "items.jsonl").open("w", encoding="utf-8") as f:
        for it in items:
            f.write(json.dumps(it, ensure_ascii=False) + "\n")
    test_items = [it for it in items if it["split"] == "test"]
    (out / "test.en").write_text("".join(it["text"] + "\n" for it in test_items), encoding="utf-8")
    pool_items = [it for it in items if it["split"] == "pool"]
    pairs, left_out = kept_pairs(pool_items, flagged)
    for lang, k in (("de", 0), ("en", 1)):
        (condition / f"pool.{lang}").write_text("".join(p[k] + "\n" for p in pairs), encoding="utf-8")
    (condition / "left_out.json").write_text(json.dumps(left_out, ensure_ascii=False, indent=1) + "\n")

    metrics = {"generator": name, "kind": cfg["kind"], "model": cfg.get("model"), "api": cfg.get("api"),
               **{f"test_{k}": v for k, v in scoring.score(
                   [it["text"] for it in test_items],
                   first_lines(PREPARED_DIR / "test.en", len(test_items))).items()},
               "pool_sentences": len(pool_items), "test_sentences": len(test_items),
               "condition_pairs": len(pairs), "left_out": len(left_out),
               "flag_rates": {f: round(sum(f in it["flags"] for it in pool_items) / len(pool_items), 4)
                              for f in cleaning.FLAGS},
               "flagged_rate": round(sum(bool(it["flags"]) for it in pool_items) / len(pool_items), 4),
               **usage}
    path = RESULTS_DIR / "generators" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
