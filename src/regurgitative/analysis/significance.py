"""Stage `significance`: every comparison a claim of the study rests on, tested once with the seeds pooled, and
corrected for multiplicity within the claim's family (verdicts.py and stats.py: t over seeds with the paired
test-sentence variance added, Holm's correction, whether each group learned, the outcome of each comparison).

A comparison is "a against b": two groups of students (a condition at a training size, one student per seed)
that translated the same test set. What differs between a and b is stated per family:

| family | a vs b | what differs | expected |
| E1-generated | real@n vs g@n | the English of the same German sentences: human vs generator g's | a better |
| E1-fraction | real@m vs g@N, m < N | the English, and real has fewer pairs (the first m of the same pool) | a better |
| mitigations | m@n vs g@n | a mitigation's English and sentences (its n best, or a mix) vs g's first n | a better |
|             | real@n vs m@n | human English of the first n vs the mitigation's | a better (the gap remains) |
| E5-E7-split | control@n vs m@n | the English only: the same sentences in the same order (english: real) | a better |
|             | control@n vs real@n | the sentences only: the n best by the score vs the first n, both human | two-sided |
| E5-oracle   | oracle@n vs g@n, real@n vs oracle@n | as for mitigations; the oracle is an upper bound, not one | |
| E8-share    | real@n vs share@n, share@n vs g@n | the share of generated English on the same sentences | |

Claim 5 counts the `mitigations` family only (role `mitigation`: E5 reference-free, E6, E7), never the oracle,
the controls or the shares. Writes results/significance.csv (one row per comparison: the difference of seed
means, its interval and p-value, `interval` what they count, Holm's p, the outcome) and results/intervals.csv
(one row per group: seed-mean BLEU and chrF with their 95 % intervals, the two floors, whether it learned: the
rule of analysis/verdicts.py, with params.yaml's significance.learned and results/baselines.json's copy-source
scores).
"""
from __future__ import annotations

import json

from regurgitative.analysis import verdicts
from regurgitative.conditions import control_of, describe
from regurgitative.params import grid_sizes, load_params, param
from regurgitative.paths import (BASELINES, INTERVALS_TABLE as INTERVALS, PREPARED_DIR, SIGNIFICANCE_TABLE as TABLE,
                                 eval_dir)
from regurgitative.text import read_lines

COLUMNS = ["family", "a", "a_size", "b", "b_size", "differs", "expected", "a_bleu", "b_bleu", "difference", "ci_low",
           "ci_high", "interval", "p_value", "p_holm", "a_learned", "b_learned", "outcome", "a_seeds", "b_seeds"]
GROUP_COLUMNS = ["condition", "train_size", *verdicts.INTERVAL_COLUMNS]


def comparisons(params: dict) -> list[dict]:
    """Every comparison of every family, for the groups the grid trains."""
    sizes = grid_sizes(params)
    has = lambda c, n: n in sizes.get(c, [])  # noqa: E731
    out: list[dict] = []

    def add(family: str, a: str, n_a: int, b: str, n_b: int, differs: str, expected: str = "a better") -> None:
        if has(a, n_a) and has(b, n_b):
            out.append({"family": family, "a": a, "a_size": n_a, "b": b, "b_size": n_b, "differs": differs,
                        "expected": expected})

    roles = {c: describe(params, c) for c in sizes}
    generators = [c for c, d in roles.items() if d["role"] == "regurgitative"]
    for g in generators:
        for n in sizes[g]:
            add("E1-generated", "real", n, g, n, f"English: human vs {g}'s, same German sentences")
        largest = max(sizes[g])
        for m in sizes.get("real", []):
            if m < largest:
                add("E1-fraction", "real", m, g, largest, f"English (human vs {g}'s) and size ({m} vs {largest} pairs)")
    for c, d in roles.items():
        parts = (d["generator"] or "").split("+")
        for n in sizes[c]:
            if d["role"] in ("mitigation", "analysis"):
                family = "mitigations" if d["role"] == "mitigation" else "E5-oracle"
                for g in parts:
                    add(family, c, n, g, n, f"{c}'s English and sentences vs {g}'s first {n}")
                add(family, "real", n, c, n, f"human English of the first {n} vs {c}'s")
            control = control_of(params, c)
            if control:
                add("E5-E7-split", control, n, c, n, f"English only: human vs {parts[0]}'s, the same {n} sentences")
                add("E5-E7-split", control, n, "real", n, f"sentences only: the {n} best by {d['score']} vs the "
                    f"first {n}, both human", expected="two-sided")
            if d["role"] == "share":
                add("E8-share", "real", n, c, n, f"{100 * d['generated_share']:.0f} % of the English generated vs none")
                add("E8-share", c, n, parts[0], n, f"{100 * d['generated_share']:.0f} % of the English generated vs all")
    return out


def hypotheses(params: dict, groups: set[tuple[str, int]]) -> dict:
    """{(condition, size): [the test translations of each seed's student]}"""
    seeds = [int(s) for s in param(params, "grid.seeds")]
    return {(c, n): [read_lines(eval_dir(c, n, s) / "hypotheses.en") for s in seeds] for c, n in sorted(groups)}


def main() -> None:
    params = load_params()
    references = read_lines(PREPARED_DIR / "test.en")
    copy_source = json.loads(BASELINES.read_text())["copy_source"]
    every = {(c, n) for c, sizes in grid_sizes(params).items() for n in sizes}
    rows = [{**r, "a": (r["a"], r["a_size"]), "b": (r["b"], r["b_size"])} for r in comparisons(params)]
    for r in rows:
        del r["a_size"], r["b_size"]
    intervals, table = verdicts.judge(references, hypotheses(params, every), rows, copy_source,
                                      param(params, "significance"), key=("condition", "train_size"), side="size")
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    table[COLUMNS].round(6).to_csv(TABLE, index=False)
    intervals[GROUP_COLUMNS].round(4).to_csv(INTERVALS, index=False)
    print(intervals.round(2).to_string(index=False))
    print(table[COLUMNS].drop(columns=["differs"]).round(4).to_string(index=False))


if __name__ == "__main__":
    main()
