"""Stage `mitigate@{condition}`: a mitigation condition, built from generated conditions without asking any
generator anything. Like every condition it is a line-aligned pool, data/conditions/<condition>/pool.{de,en},
whose training set of size n is its first n lines; what differs is which English a line carries and in what
order the lines come. The recipe is `mitigations.<condition>` in params.yaml:

- `order` (E5 quality-ordered, E7 detector-ordered): the generator's condition sorted by a per-sentence score,
  best first (`score`: a column of data/quality/<generator>.csv), so that size n trains on the n best German
  sentences of generate.pool_size with the generator's English. With `english: real` the same sentences in the
  same order carry their human English: the control that separates the effect of the English (mitigation vs
  control) from the effect of choosing those sentences (control vs `real`, whose size n is the first n).
- `mix` (E6): every German sentence gets the English of one of k `generators`, in equal shares in every
  prefix of k lines (a seeded permutation of the generators per block of k), so size n has n/k of each.
- `share` (E8): real English with a `share` of the lines replaced by the generator's, spread evenly over the
  pool (exactly floor(n * share) generated lines among the first n, for every n).

mix and share keep the German sentences of `real`, in its order; order keeps the generator's sentences.
Writes data/conditions/<condition>/pool.{de,en} and sources.json (per line: the pool index of the German
sentence and which generator, or real, wrote the English).
"""
from __future__ import annotations

import argparse
import json
import math
import random

import pandas as pd

from regurgitative.generators.generated import generated_items, kept_pairs
from regurgitative.params import load_params, param
from regurgitative.paths import CONDITIONS_DIR, QUALITY_DIR, condition_pool, fresh_dir
from regurgitative.text import read_lines

METHODS = ("order", "mix", "share")


def real_pool() -> tuple[list[str], list[str]]:
    pool = condition_pool("real")
    de, en = read_lines(pool.with_suffix(".de")), read_lines(pool.with_suffix(".en"))
    if len(de) != len(en):
        raise ValueError(f"{pool}.de has {len(de)} lines but {pool}.en has {len(en)}; refusing to truncate")
    return de, en


def complete_translation(generator: str, flagged: str, real_de: list[str]) -> list[str]:
    """The generator's English for every German sentence of `real`'s pool as far as it reaches, in order, rebuilt
    from its items as its stage built data/conditions/<generator> (reading that directory would make this stage
    depend on its own output directory)."""
    pairs, _ = kept_pairs(generated_items(generator, "pool"), flagged)
    de, en = [d for d, _ in pairs], [e for _, e in pairs]
    if de != real_de[:len(de)]:
        raise ValueError(f"data/conditions/{generator}: its German is not the real pool's (generate.flagged: "
                         f"{flagged} left sentences out); mix and share need every sentence translated: set "
                         f"generate.flagged: keep")
    return en


def by_score(generator: str, score: str) -> list[int]:
    """Pool indices, best score first; sentences without a score last; ties in pool order."""
    path = QUALITY_DIR / f"{generator}.csv"
    table = pd.read_csv(path)
    if score not in table.columns:
        raise ValueError(f"{path}: no score column {score!r} (it has {', '.join(table.columns[2:])})")
    if table[score].isna().all():
        raise ValueError(f"{path}: {generator} has no {score!r} score for any sentence (a generator records its "
                         f"confidence only when its endpoint returns log-probabilities)")
    return list(table.sort_values(score, ascending=False, na_position="last", kind="stable").index)


def mix_assignment(n: int, k: int, seed: int) -> list[int]:
    """For each of n lines, which of k generators writes it: a seeded permutation of range(k) per block of k."""
    rng, out = random.Random(seed), []
    while len(out) < n:
        block = list(range(k))
        rng.shuffle(block)
        out += block
    return out[:n]


def share_assignment(n: int, share: float) -> list[bool]:
    """Line i is generated when floor((i + 1) * share) > floor(i * share): every prefix of n lines has exactly
    floor(n * share) generated ones, spread evenly."""
    if not 0 <= share <= 1:
        raise ValueError(f"share must lie in [0, 1], not {share}")
    return [math.floor((i + 1) * share + 1e-9) > math.floor(i * share + 1e-9) for i in range(n)]


def build(name: str, params: dict) -> dict:
    cfg = param(params, f"mitigations.{name}")
    method = param(params, f"mitigations.{name}.method")
    flagged = param(params, "generate.flagged")
    real_de, real_en = real_pool()
    if method == "order":
        generator, score = param(params, f"mitigations.{name}.generator"), param(params, f"mitigations.{name}.score")
        items = generated_items(generator, "pool")
        order = by_score(generator, score)
        if len(order) != len(items):
            raise ValueError(f"{QUALITY_DIR / generator}.csv scores {len(order)} sentences but "
                             f"data/generated/{generator} has {len(items)}; rerun the quality stage")
        # The condition's own sentences: under generate.flagged: drop, its flagged ones are left out here too.
        _, left_out = kept_pairs(items, flagged)
        dropped = {it["index"] for it in left_out}
        english = cfg.get("english", "generated")
        if english not in ("generated", "real"):
            raise ValueError(f"params.yaml: mitigations.{name}.english is {english!r}; it must be generated (the "
                             f"default) or real (a control: the human English in the same order)")
        if english == "real":   # the control: the same sentences, their human English
            lines = [(items[i]["de"], real_en[i], i, "real") for i in order if i not in dropped]
        else:
            lines = [(items[i]["de"], items[i]["text"], i, generator) for i in order if i not in dropped]
    elif method == "mix":
        generators = list(param(params, f"mitigations.{name}.generators"))
        english = {g: complete_translation(g, flagged, real_de) for g in generators}
        n = min(len(e) for e in english.values())
        who = mix_assignment(n, len(generators), int(cfg.get("seed", 1)))
        lines = [(real_de[i], english[generators[w]][i], i, generators[w]) for i, w in enumerate(who)]
    elif method == "share":
        generator = param(params, f"mitigations.{name}.generator")
        english = complete_translation(generator, flagged, real_de)
        generated = share_assignment(len(english), float(param(params, f"mitigations.{name}.share")))
        lines = [(real_de[i], english[i] if g else real_en[i], i, generator if g else "real")
                 for i, g in enumerate(generated)]
    else:
        raise ValueError(f"params.yaml: mitigations.{name}.method must be one of {', '.join(METHODS)}, not {method!r}")

    out = fresh_dir(CONDITIONS_DIR / name)
    for lang, k in (("de", 0), ("en", 1)):
        (out / f"pool.{lang}").write_text("".join(line[k] + "\n" for line in lines), encoding="utf-8")
    (out / "sources.json").write_text(json.dumps([{"index": i, "english_from": w} for _, _, i, w in lines]) + "\n")
    counts = pd.Series([w for *_, w in lines]).value_counts().to_dict()
    return {"condition": name, "method": method, "lines": len(lines), "english_from": counts}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--condition", required=True, help="a name under `mitigations` in params.yaml")
    a = ap.parse_args()
    print(json.dumps(build(a.condition, load_params()), indent=2))


if __name__ == "__main__":
    main()
